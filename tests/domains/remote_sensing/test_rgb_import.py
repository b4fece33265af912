"""An imported RGB checkpoint (RemoteCLIP-style) in remote sensing: 8-bit RGB chips (PNG, JPEG, GeoTIFF written by PIL
and rasterio) embed exactly as open_clip embeds the same image, and a Sentinel-2 scene or band folder is read as true
colour (B04, B03, B02 reflectance x 2.5, clipped, 8-bit); SAR and 16-bit 3-band rasters are refused by name."""

from __future__ import annotations

import numpy as np
import open_clip
import pytest
import rasterio
import torch
import torch.nn.functional as F
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.predict import InputItem, Predictor
from clipzoo.domains.remote_sensing.bands import S2_BANDS
from clipzoo.pipeline.importer import import_model
from clipzoo.registry.loading import load_clip
from PIL import Image
from rasterio.crs import CRS
from rasterio.transform import from_origin

from tests.helpers.hub import hub_cache, write_open_clip_repo

__all__ = ["hub_cache"]  # a fixture

REPO = "clipzoo-test/tiny-remoteclip"


def geotiff(path, data, names=None, **tags):
    h, w = data.shape[1:]
    crs, transform = CRS.from_epsg(32631), from_origin(4e5, 5e6, 10, 10)
    profile = {"driver": "GTiff", "count": len(data), "height": h, "width": w, "dtype": data.dtype.name}
    profile.update(crs=crs, transform=transform)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        if names:
            dst.descriptions = names
        dst.update_tags(**tags)
    return path


def s2_dn(seed: int, h: int = 40, w: int = 36) -> np.ndarray:
    """13-band L1C digital numbers; reflectance up to 0.6, so the 2.5 gain clips the brightest pixels."""
    return np.random.default_rng(seed).integers(0, 6000, (len(S2_BANDS), h, w)).astype(np.uint16)


def expected_true_colour(dn: np.ndarray) -> Image.Image:
    idx = [S2_BANDS.index(b) for b in ("B04", "B03", "B02")]
    colour = np.clip(dn[idx].astype(np.float64) / 10000.0 * 2.5, 0, 1)
    return Image.fromarray(np.round(colour * 255).astype(np.uint8).transpose(1, 2, 0))


@pytest.fixture()
def rgb_model(hub_cache):
    write_open_clip_repo(hub_cache, REPO, seed=5)
    import_model(get_domain("remote_sensing"), f"hf-hub:{REPO}", line="tiny-remoteclip")
    ref, _, preprocess = open_clip.create_model_and_transforms(f"hf-hub:{REPO}")
    return load_clip("remote_sensing-tiny-remoteclip"), ref.eval(), preprocess


def reference(ref, preprocess, images: list[Image.Image]) -> torch.Tensor:
    with torch.no_grad():
        return F.normalize(ref.encode_image(torch.stack([preprocess(im) for im in images])), dim=-1)


def test_rgb_chips_and_sentinel2_true_colour_embed_as_open_clip(rgb_model, tmp_path):
    clip, ref, preprocess = rgb_model
    assert clip.spec.extra["rgb"] == {"true_colour_bands": ["B04", "B03", "B02"], "gain": 2.5}
    rng = np.random.default_rng(1)
    photo = Image.fromarray(rng.integers(0, 256, (50, 44, 3), dtype=np.uint8))
    png, jpg = tmp_path / "chip.png", tmp_path / "chip.jpg"
    photo.save(png)
    photo.save(jpg, quality=90)
    tif = geotiff(tmp_path / "chip.tif", np.asarray(photo).transpose(2, 0, 1).copy())
    dn = s2_dn(2)
    scene = geotiff(tmp_path / "s2.tif", dn, names=S2_BANDS, SENSOR="S2")
    folder = tmp_path / "S2A_tile"
    folder.mkdir()
    for i, band in enumerate(S2_BANDS):
        if band != "B10":  # an L2A-like folder of 12 one-band files
            geotiff(folder / f"S2A_tile_{band}.tif", dn[i : i + 1])

    predictor = Predictor(clip, get_domain("remote_sensing"))
    items = [InputItem(name=str(p)) for p in (png, jpg, tif, scene, folder)]
    ours, errors = predictor.encode(items)
    assert errors == [None] * 5
    s2_image = expected_true_colour(dn)
    assert np.asarray(s2_image).max() == 255 and 0 < np.asarray(s2_image).mean() < 255  # clipped, not saturated
    theirs = reference(ref, preprocess, [photo, Image.open(jpg).convert("RGB"), photo, s2_image, s2_image])
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


def test_an_rgb_model_refuses_sar_and_wide_3_band_rasters_by_name(rgb_model, tmp_path):
    clip, _, _ = rgb_model
    predictor = Predictor(clip, get_domain("remote_sensing"))
    sar = geotiff(tmp_path / "vv_vh.tif", np.full((2, 8, 8), -11.0, np.float32), ("VV", "VH"), BACKSCATTER_UNITS="dB")
    wide = geotiff(tmp_path / "rgb16.tif", np.full((3, 8, 8), 900, np.uint16))
    _, errors = predictor.encode([InputItem(name=str(sar)), InputItem(name=str(wide))])
    assert "vv_vh.tif: this RGB model reads 8-bit RGB chips and Sentinel-2 (as true colour), not S1" in errors[0]
    assert "rgb16.tif: a GTiff raster with 3 band(s) of uint16: RGB chips are read as 8-bit colour" in errors[1]
    with pytest.raises(InputError, match=r"rgb16\.tif"):
        get_domain("remote_sensing").read(wide)
