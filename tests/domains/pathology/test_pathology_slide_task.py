"""The ``slide`` task through the shared predict path: the real ``clipzoo predict`` CLI (a subprocess) and a real
``mlflow models serve`` process, with a tiny registered pathology model, on demo pyramidal TIFFs and the real .svs."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from clipzoo.domains.pathology.demo_data import write_demo_dataset
from clipzoo.domains.pathology.pyramid import write_pyramidal_tiff
from clipzoo.domains.pathology.slide import open_slide
from clipzoo.domains.pathology.tiling import plan_tiles
from mlflow.exceptions import MlflowException
from PIL import Image

from tests.conftest import SHARED_DATA, TINY_OPEN_CLIP_CFG
from tests.helpers.serving import served

SVS = SHARED_DATA / "pathology" / "cmu_small_region.svs"
TILE_PX = 64  # the demo slides' tile (and block) size
LABELS = ["tumor", "normal tissue"]


@pytest.fixture(scope="module")
def slides(tmp_path_factory):
    """A demo slide (6 x 5 blocks of 64 px at 0.5 um/px, 3 levels), a file that is not a slide, a blank slide."""
    root = tmp_path_factory.mktemp("slide-task")
    paths = write_demo_dataset(root, n_train=12, n_heldout=12, n_slides=3, tile_px=TILE_PX, slide_blocks=(6, 5))
    fake = root / "fake.svs"
    fake.write_text("not a slide")
    glass = np.full((256, 256, 3), 242, np.uint8)
    blank = write_pyramidal_tiff(root / "blank.tif", lambda y0, y1: glass[y0:y1], 256, 256, mpp=0.5, levels=1)
    good = root / pd.read_csv(paths["slides"])["path"][0]
    return {"good": good, "fake": fake, "blank": blank, "demo": paths}


@pytest.fixture(scope="module")
def model(slides, tmp_path_factory) -> str:
    """A tiny pathology model trained a few steps on the demo tiles and registered through the real job."""
    from clipzoo.core.domain import get_domain
    from clipzoo.core.spec import ModelSpec
    from clipzoo.core.train import TrainConfig
    from clipzoo.pipeline.train import train

    folder = tmp_path_factory.mktemp("slide-task-model")
    spec = ModelSpec(name="tiny-he", domain="pathology", model_cfg=TINY_OPEN_CLIP_CFG, image_size=32)
    result = train(
        get_domain("pathology"),
        spec,
        {"train": slides["demo"]["train"]},
        heldout=slides["demo"]["heldout"],
        config=TrainConfig(epochs=1, batch_size=12, warmup_steps=1, checkpoint_every=50),
        output_dir=folder / "checkpoints",
    )
    assert result.published is not None
    return f"clipzoo-pathology/{result.published.version}"


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "clipzoo.cli.main", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def _n_tiles(path: Path, mpp: float, tile_px: int) -> tuple[int, int, int]:
    with open_slide(path) as slide:
        plan = plan_tiles(slide, mpp, tile_px)
        return plan.n_tiles, plan.n_skipped, plan.level


def test_cli_classifies_a_slide_and_names_each_bad_one(model, slides, tmp_path):
    good, fake, blank = slides["good"], slides["fake"], slides["blank"]
    maps = tmp_path / "maps"
    proc = _cli(
        "predict", model, str(good), str(fake), str(blank), "--task", "slide", "--labels", *LABELS,
        "--option", f"tile_px={TILE_PX}", "--option", "mpp=0.5", "--option", "ks=[1,3]",
        "--option", f"heatmap_dir={maps}", "--json",
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr  # one slide or more could not be used
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["input"] for r in rows] == [str(good), str(fake), str(blank)]
    row = rows[0]
    assert row["error"] is None and sorted(row["labels"]) == sorted(LABELS)
    assert sum(row["scores"]) == pytest.approx(1, abs=1e-4) and row["scores"] == sorted(row["scores"], reverse=True)
    used, skipped, level = _n_tiles(good, 0.5, TILE_PX)
    assert (row["tiles_used"], row["tiles_skipped"], row["level"]) == (used, skipped, level)
    assert used > 0 and skipped > 0 and used + skipped == 30  # the 6 x 5 grid: tissue kept, glass skipped
    assert row["k"] == 10 and set(row["label_per_k"]) == {"1", "3", "10"}
    assert set(row["label_per_k"].values()) <= set(LABELS)
    assert (row["mpp"], row["tile_px"]) == (0.5, TILE_PX)
    heatmap = Path(row["heatmap"])
    assert heatmap == maps / f"{good.name}.heatmap.png" and heatmap.is_file()
    with Image.open(heatmap) as img:
        assert img.format == "PNG" and img.size[0] > 100
    assert "fake.svs: not a whole-slide image" in rows[1]["error"] and rows[1]["labels"] == []
    assert "blank.tif: no tissue found" in rows[2]["error"]
    assert not (maps / f"{blank.name}.heatmap.png").exists()


def test_heatmap_names_the_slide_the_label_and_k_and_has_a_colour_bar(slides):
    """What a pathologist reads without asking: slide name, label, K in the title; a colour bar of the probability;
    the overlay pixel-aligned with the slide's thumbnail, tiles without tissue left clear."""
    from clipzoo.domains.pathology.slide_zeroshot import heatmap_figure, overlay

    with open_slide(slides["good"]) as slide:
        plan = plan_tiles(slide, 0.5, TILE_PX)
        thumbnail = slide.thumbnail(1024)
    scores = np.linspace(0, 1, plan.n_tiles, dtype=np.float32)
    image = overlay(plan, scores)
    assert image.shape == thumbnail.shape and image.dtype == np.uint8
    assert np.array_equal(image[-1, -1], thumbnail[-1, -1]) or plan.n_skipped == 0
    fig = heatmap_figure(plan, scores, "tumour", 10, slides["good"].name)
    title = fig.axes[0].get_title()
    assert slides["good"].name in title and "P(tumour)" in title and "top-10" in title
    colour_bar = fig.axes[1]
    assert colour_bar.get_ylabel() == "P(tumour)" and colour_bar.get_ylim() == (0.0, 1.0)


@pytest.mark.skipif(not SVS.is_file(), reason="shared data cmu_small_region.svs absent")
def test_cli_classifies_the_real_svs_with_the_diagnosis_pack(model, tmp_path):
    proc = _cli("predict", model, str(SVS), "--task", "slide", "--option", f"heatmap_dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    used, skipped, level = _n_tiles(SVS, 0.5, 224)
    line = proc.stdout.strip()
    assert line.startswith(f"{SVS}: ")  # ranked labels, then the task's fields as JSON
    extra = json.loads(line[line.index("{") :])
    assert (extra["tiles_used"], extra["tiles_skipped"], extra["level"]) == (used, skipped, level)
    assert used > 20 and extra["k"] == 10
    assert set(extra["label_per_k"].values()) <= {"adenocarcinoma", "lymphoid", "normal"}
    assert Path(extra["heatmap"]).is_file()
    ranked = line[len(f"{SVS}: ") : line.index("{")]
    assert sum(name in ranked for name in ("adenocarcinoma", "lymphoid", "normal")) == 3


@pytest.fixture(scope="module")
def pyfunc(model):
    from clipzoo.registry.loading import load_pyfunc

    return load_pyfunc(model)


def _slide_rows(pyfunc, paths, **options) -> list[dict]:
    params = {"task": "slide", "labels": LABELS, "options": json.dumps(options)}
    return pyfunc.predict(pd.DataFrame({"path": [str(p) for p in paths]}), params=params).to_dict("records")


def test_requested_resolution_picks_the_pyramid_level(pyfunc, slides):
    good = slides["good"]
    coarse = _slide_rows(pyfunc, [good], mpp=1.0, tile_px=32, tile_coords=True)[0]
    used, skipped, level = _n_tiles(good, 1.0, 32)
    assert level == 1 and (coarse["level"], coarse["tiles_used"], coarse["tiles_skipped"]) == (1, used, skipped)
    assert len(coarse["tile_coords"]) == used and all(x % 64 == 0 and y % 64 == 0 for x, y in coarse["tile_coords"])
    by_mpp = _slide_rows(pyfunc, [good], mpp=0.5, tile_px=TILE_PX)[0]
    by_magnification = _slide_rows(pyfunc, [good], magnification=20, tile_px=TILE_PX)[0]
    assert by_mpp["scores"] == pytest.approx(by_magnification["scores"], abs=1e-6)
    assert by_mpp["level"] == 0 and "heatmap" not in by_mpp


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tile_size": 64}, r"unknown slide option\(s\) \['tile_size'\]"),
        ({"k": 0}, "'k' must be an integer >= 1"),
        ({"mpp": -1}, "'mpp' must be a non-negative number"),
        ({"mpp": 0.5, "magnification": 20}, "not both"),
    ],
)
def test_bad_settings_are_named(pyfunc, slides, options, message):
    with pytest.raises(MlflowException, match=message):
        _slide_rows(pyfunc, [slides["good"]], tile_px=TILE_PX, **options)


def test_a_per_slide_error_is_its_row_even_when_it_is_the_only_slide(pyfunc, slides):
    (row,) = _slide_rows(pyfunc, [slides["good"]], tile_px=TILE_PX, mpp=0.1)
    assert "finer than the slide's best level" in row["error"] and str(slides["good"]) in row["error"]


@pytest.fixture(scope="module")
def server(model, slides):
    with served(model, "serve-pathology.log", "--data-root", str(slides["fake"].parent)) as url:
        yield url


def test_served_model_classifies_slides_by_path_and_by_upload(server, slides):
    good, fake, blank = slides["good"], slides["fake"], slides["blank"]
    params = {"task": "slide", "labels": LABELS, "options": json.dumps({"tile_px": TILE_PX, "mpp": 0.5})}
    reply = requests.post(
        f"{server}/invocations",
        json={"dataframe_split": {"columns": ["path"], "data": [[str(good)], [str(fake)]]}, "params": params},
        timeout=120,
    )
    assert reply.status_code == 200, reply.text
    by_path, bad = reply.json()["predictions"]
    assert by_path["error"] is None and sorted(by_path["labels"]) == sorted(LABELS)
    assert by_path["tiles_used"] == _n_tiles(good, 0.5, TILE_PX)[0]
    assert "fake.svs: not a whole-slide image" in bad["error"]

    upload = base64.b64encode(good.read_bytes()).decode()
    reply = requests.post(
        f"{server}/invocations",
        json={"inputs": {"data": [upload], "name": ["upload.tif"]}, "params": params},
        timeout=120,
    )
    assert reply.status_code == 200, reply.text
    row = reply.json()["predictions"][0]
    assert row["input"] == "upload.tif" and row["labels"] == by_path["labels"]
    assert row["scores"] == pytest.approx(by_path["scores"], abs=1e-6)
    assert row["tiles_used"] == by_path["tiles_used"]

    reply = requests.post(  # nothing usable: 400 naming the slide, and the server keeps serving
        f"{server}/invocations",
        json={"dataframe_split": {"columns": ["path"], "data": [[str(blank)]]}, "params": params},
        timeout=120,
    )
    assert reply.status_code == 400 and "blank.tif: no tissue found" in reply.text
    assert requests.get(f"{server}/ping", timeout=5).status_code == 200
