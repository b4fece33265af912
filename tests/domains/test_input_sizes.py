"""Every 2D domain refuses a 1x1 and a 4x4 picture (a PNG, a GeoTIFF chip for remote sensing) by the model's input
size, naming the file, its size and the minimum; a picture of the model's own size is answered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.model import build_model
from clipzoo.core.predict import InputItem, Predictor
from clipzoo.core.sizes import check_input_size, size_limits
from clipzoo.domains.remote_sensing.bands import S2_BANDS
from PIL import Image
from rasterio.crs import CRS
from rasterio.transform import from_origin

from tests.conftest import TINY_OPEN_CLIP_CFG

DOMAINS_2D = ("image", "medical", "pathology", "fashion", "remote_sensing")


def _picture(domain: str, folder: Path, side: int) -> Path:
    if domain != "remote_sensing":
        path = folder / f"{side}x{side}.png"
        Image.fromarray(np.random.default_rng(side).integers(0, 255, (side, side, 3), dtype=np.uint8)).save(path)
        return path
    path = folder / f"{side}x{side}.tif"
    profile = {"driver": "GTiff", "count": 13, "height": side, "width": side, "dtype": "uint16",
               "crs": CRS.from_epsg(32631), "transform": from_origin(4e5, 5e6, 10, 10)}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full((13, side, side), 1200, np.uint16))
        dst.descriptions = S2_BANDS
    return path


@pytest.mark.parametrize("name", DOMAINS_2D)
def test_tiny_pictures_are_refused_by_every_2d_domain(name, tmp_path):
    domain = get_domain(name)
    image_size = 64 if name == "pathology" else 32
    cfg = {**TINY_OPEN_CLIP_CFG, "vision_cfg": {**TINY_OPEN_CLIP_CFG["vision_cfg"], "image_size": image_size}}
    spec = domain.default_spec().replace(model_cfg=cfg, image_size=image_size, lock_text=False)
    predictor = Predictor(build_model(spec), domain)
    smallest, _ = size_limits(image_size)
    files = [_picture(name, tmp_path, side) for side in (1, 4, image_size)]
    rows = predictor.predict([InputItem.from_path(f) for f in files], labels=["one", "two"])
    for side, row in zip((1, 4), rows[:2], strict=True):
        assert row.error is not None and row.labels == []
        assert row.error.startswith(f"{files[0].parent / f'{side}x{side}'}")  # the file is named first
        assert f"{side}x{side} px, smaller than" in row.error and f"{smallest} px" in row.error, row.error
    assert rows[2].error is None and len(rows[2].labels) == 2


def test_size_limits_follow_the_model_input_size():
    assert size_limits(32) == (8, 16384) and size_limits(224) == (56, 16384) and size_limits(512) == (128, 32768)
    check_input_size(56, 300, 224)
    with pytest.raises(InputError, match=r"wide\.png: input is 20000x100 px, larger than .* maximum of 16384"):
        check_input_size(20000, 100, 224, "wide.png")
