"""Whole-slide features stored once as HDF5 (TRIDENT/CLAM layout) by `clipzoo embed --task slide`, and read back by
`--task slide` instead of the pixels."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pytest
from clipzoo.domains.pathology.demo_data import write_demo_dataset
from clipzoo.domains.pathology.slide import open_slide
from clipzoo.domains.pathology.tiling import plan_tiles

from tests.cli.test_cli import clipzoo_inprocess
from tests.helpers.hub import hub_cache, write_open_clip_repo

__all__ = ["hub_cache"]  # a fixture

TILE_PX = 64
LABELS = ["tumor", "normal tissue"]


def _predict(capsys, slide, *options: str) -> dict:
    args = ["predict", "slides-model", str(slide), "--task", "slide", "--labels", *LABELS, "--json",
            "--option", f"tile_px={TILE_PX}", *[x for o in options for x in ("--option", o)]]  # fmt: skip
    proc = clipzoo_inprocess(capsys, *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[0])


def test_slide_features_are_stored_in_the_trident_layout_and_read_instead_of_pixels(hub_cache, tmp_path, capsys):
    paths = write_demo_dataset(tmp_path / "demo", n_train=6, n_heldout=6, n_slides=2, tile_px=TILE_PX,
                               slide_blocks=(5, 4))  # fmt: skip
    write_open_clip_repo(hub_cache, "clipzoo-test/slides-model", seed=4)
    proc = clipzoo_inprocess(capsys, "import", "hf-hub:clipzoo-test/slides-model", "--domain", "pathology",
                             "--name", "slides-model")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    slides = pd.read_csv(paths["slides"])
    out = tmp_path / "features"
    args = ("embed", "slides-model", "--data", str(paths["slides"]), "--out", str(out), "--task", "slide",
            "--option", f"tile_px={TILE_PX}")  # fmt: skip
    proc = clipzoo_inprocess(capsys, *args)
    assert proc.returncode == 0, proc.stderr
    assert f"{len(slides)} slide features file(s) written, 0 up to date" in proc.stdout

    first = paths["slides"].parent / slides["path"][0]
    with open_slide(first) as slide:
        plan = plan_tiles(slide, 0.5, TILE_PX)
    with h5py.File(out / f"{first.stem}.h5", "r") as h5:
        coords, features = h5["coords"][()], h5["features"][()]
        assert coords.dtype == np.int64 and np.array_equal(coords, plan.coords)
        attrs = dict(h5["coords"].attrs)
        assert (attrs["patch_size"], attrs["level"], attrs["mpp"]) == (TILE_PX, plan.level, 0.5)
        assert features.dtype == np.float32 and features.shape == (len(coords), 32)
        np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
        assert h5.attrs["model"] == "clipzoo-pathology-slides-model/1" and len(h5.attrs["fingerprint"]) == 64

    from_pixels = _predict(capsys, first)
    from_cache = _predict(capsys, first, f"features_dir={out}")
    assert from_pixels["features_from"] == "pixels"
    assert from_cache["features_from"] == f"stored features {out / (first.stem + '.h5')}"
    assert from_cache["labels"] == from_pixels["labels"]
    assert from_cache["scores"] == pytest.approx(from_pixels["scores"], abs=1e-6)

    again = clipzoo_inprocess(capsys, *args)
    assert f"0 slide features file(s) written, {len(slides)} up to date" in again.stdout
    other_tiling = _predict(capsys, first, f"features_dir={out}", "min_tissue=0.5")
    assert (
        other_tiling["features_from"].startswith("pixels (") and "another model/tiling" in other_tiling["features_from"]
    )
