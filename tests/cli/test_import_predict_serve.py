"""`clipzoo import` -> `clipzoo predict` for one imported (tiny, open_clip hub layout) checkpoint per domain, on each
domain's own inputs, and `clipzoo serve` for the remote-sensing one: medical on pydicom's real CT series (mean slice
pooling), pathology on a pyramidal slide (`--task slide`), remote sensing on an RGB chip and a Sentinel-2 band folder
(true colour), fashion with `--task search` (composed queries fall back to the sum, and the row says so)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
import requests
import torch
import torch.nn.functional as F
from clipzoo.core.domain import get_domain
from clipzoo.domains.fashion.demo_data import write_demo_dataset as write_fashion
from clipzoo.domains.fashion.search import SUM_NOTE
from clipzoo.domains.medical import wheel_ct_series
from clipzoo.domains.pathology.pyramid import write_pyramidal_tiff
from clipzoo.domains.remote_sensing.bands import S2_BANDS
from clipzoo.registry.loading import load_clip
from PIL import Image
from rasterio.crs import CRS
from rasterio.transform import from_origin

from tests.cli.test_cli import clipzoo_inprocess
from tests.helpers.hub import hub_cache, write_open_clip_repo
from tests.helpers.serving import served

__all__ = ["hub_cache"]  # a fixture

pytestmark = pytest.mark.slow


def imported(capsys, hub_cache: Path, domain: str, seed: int) -> str:
    """`clipzoo import hf-hub:clipzoo-test/<domain> --domain D --name e2e-<domain>`; returns the line name."""
    repo = f"clipzoo-test/e2e-{domain.replace('_', '-')}"
    write_open_clip_repo(hub_cache, repo, seed=seed)
    line = f"e2e-{domain.replace('_', '-')}"
    proc = clipzoo_inprocess(capsys, "import", f"hf-hub:{repo}", "--domain", domain, "--name", line)
    assert proc.returncode == 0, proc.stderr
    return f"{domain}-{line}"


def predicted(capsys, *args: str) -> list[dict]:
    proc = clipzoo_inprocess(capsys, "predict", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def geotiff(path: Path, data: np.ndarray) -> Path:
    import rasterio

    profile = {"driver": "GTiff", "count": len(data), "height": data.shape[1], "width": data.shape[2]}
    profile.update(dtype=data.dtype.name, crs=CRS.from_epsg(32631), transform=from_origin(4e5, 5e6, 10, 10))
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def test_medical_dicom_series(hub_cache, capsys):
    line = imported(capsys, hub_cache, "medical", seed=11)
    [row] = predicted(capsys, line, str(wheel_ct_series()), "--labels", "lung nodule", "normal chest")
    assert row["error"] is None and sorted(row["labels"]) == ["lung nodule", "normal chest"]
    [row] = predicted(capsys, line, str(wheel_ct_series()), "--task", "attention", "--labels", "nodule", "normal")
    assert row["slice_attention"] == [0.2] * 5  # the plain mean: every one of CT5N's 5 slices counts the same


def test_pathology_slide(hub_cache, capsys, tmp_path):
    line = imported(capsys, hub_cache, "pathology", seed=12)
    rng = np.random.default_rng(0)
    tissue = np.stack([rng.integers(120, 200, (256, 256)), rng.integers(40, 120, (256, 256)),
                       rng.integers(120, 200, (256, 256))], axis=-1).astype(np.uint8)  # fmt: skip
    slide = write_pyramidal_tiff(tmp_path / "slide.tif", lambda y0, y1: tissue[y0:y1], 256, 256, mpp=0.5, levels=2)
    [row] = predicted(
        capsys, line, str(slide), "--task", "slide", "--labels", "tumor", "normal tissue",
        "--option", "tile_px=64", "--option", "mpp=0.5",
    )  # fmt: skip
    assert row["error"] is None and sorted(row["labels"]) == ["normal tissue", "tumor"]
    assert row["tiles_used"] == 16


def test_remote_sensing_rgb_chip_and_sentinel2_folder_predicted_and_served(hub_cache, capsys, tmp_path):
    line = imported(capsys, hub_cache, "remote_sensing", seed=13)
    chip = tmp_path / "chip.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(chip)
    folder = tmp_path / "S2B_scene"
    folder.mkdir()
    dn = np.random.default_rng(2).integers(0, 4000, (len(S2_BANDS), 30, 30)).astype(np.uint16)
    for i, band in enumerate(S2_BANDS):
        geotiff(folder / f"S2B_scene_{band}.tif", dn[i : i + 1])
    labels = ["forest", "water", "urban"]
    rows = predicted(capsys, line, str(chip), str(folder), "--labels", *labels)
    assert [r["error"] for r in rows] == [None, None] and all(sorted(r["labels"]) == sorted(labels) for r in rows)

    scene = geotiff(tmp_path / "s2.tif", dn)
    files = [chip, scene]
    payload = {
        "inputs": {"data": [base64.b64encode(f.read_bytes()).decode() for f in files], "name": [f.name for f in files]},
        "params": {"labels": labels, "top_k": 3},
    }
    with served(line, "serve-import-rs.log") as url:
        answer = requests.post(f"{url}/invocations", json=payload, timeout=120)
    assert answer.status_code == 200, answer.text
    served_rows = answer.json()["predictions"]
    assert [r["error"] for r in served_rows] == [None, None]
    for cli_row, served_row in zip(rows, served_rows, strict=True):  # the folder and the stacked file: same pixels
        assert cli_row["labels"] == served_row["labels"]
        np.testing.assert_allclose(cli_row["scores"], served_row["scores"], atol=1e-5)


def test_fashion_search_without_a_combiner_sums_and_says_so(hub_cache, capsys, tmp_path):
    line = imported(capsys, hub_cache, "fashion", seed=14)
    data = write_fashion(tmp_path / "fashion", n_train=3, n_heldout=9, seed=1)
    catalogue = tmp_path / "catalogue"
    proc = clipzoo_inprocess(capsys, "catalogue", "build", line, str(data["heldout"]), str(catalogue))
    assert proc.returncode == 0, proc.stderr
    reference = next((tmp_path / "fashion" / "images").iterdir())
    text = "in red with stripes"
    [row] = predicted(capsys, line, str(reference), "--text", text, "--task", "search", "--catalogue", str(catalogue),
                      "--top-k", "3", "--embeddings")  # fmt: skip
    assert row["error"] is None and row["query"] == "image+text (sum)" and row["note"] == SUM_NOTE

    clip, domain = load_clip(line), get_domain("fashion")
    pixels = domain.transform(clip.spec, train=False)(domain.read(reference))[None]
    with torch.no_grad():
        image = clip.model.encode_image(pixels, normalize=True)
        words = clip.model.encode_text(clip.tokenize([text]), normalize=True)
    expected = F.normalize(image + words, dim=-1)[0]
    np.testing.assert_allclose(row["embedding"], expected.numpy(), atol=1e-5)
