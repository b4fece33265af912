"""The per-sensor encoders (N-band patch embeddings adapted from RGB weights), batch routing, and transforms that
keep the physics (flips/rotations only; speckle on SAR only)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch
from clipzoo.core.data import seeded
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.model import build_model, save_weights
from clipzoo.core.spec import ModelSpec
from clipzoo.domains.remote_sensing.bands import S2_BANDS
from clipzoo.domains.remote_sensing.tower import MultiSensorTower
from rasterio.crs import CRS
from rasterio.transform import from_origin
from timm.models import adapt_input_conv

from tests.conftest import TINY_OPEN_CLIP_CFG


def tiny_rs_spec(**changes) -> ModelSpec:
    base = get_domain("remote_sensing").default_spec()
    return base.replace(model_cfg=TINY_OPEN_CLIP_CFG, image_size=32, lock_text=False, **changes)


def write_chip(path, data, names, **tags):
    profile = {"driver": "GTiff", "count": len(data), "height": data.shape[1], "width": data.shape[2],
               "dtype": data.dtype.name, "crs": CRS.from_epsg(32631),
               "transform": from_origin(4e5, 5e6, 10, 10)}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = names
        dst.update_tags(**tags)
    return path


def test_patch_embeddings_are_adapted_from_rgb_weights(tmp_path):
    rgb = build_model(ModelSpec(name="rgb", domain="image", model_cfg=TINY_OPEN_CLIP_CFG, image_size=32))
    with torch.no_grad():
        rgb.model.visual.conv1.weight.normal_(0.0, 1.0)  # distinctive "pretrained" weights
    weights = save_weights(rgb.model, tmp_path / "rgb.safetensors")
    clip = build_model(tiny_rs_spec(vision_tower_args={"rgb_weights": str(weights)}))
    tower = clip.model.visual
    assert isinstance(tower, MultiSensorTower) and set(tower.encoders) == {"s1", "s2"}
    rgb_conv = rgb.model.visual.conv1.weight
    s2, s1 = tower.encoders["s2"].conv1.weight, tower.encoders["s1"].conv1.weight
    assert s2.shape[1] == 13 and s1.shape[1] == 2
    torch.testing.assert_close(s2, adapt_input_conv(13, rgb_conv))
    torch.testing.assert_close(s1, adapt_input_conv(2, rgb_conv))
    torch.testing.assert_close(s2[:, 3:6], rgb_conv * 3 / 13)  # repeated over bands, rescaled by 3/N
    rgb_trunk = dict(rgb.model.visual.named_parameters())
    for name, p in tower.encoders["s1"].named_parameters():
        if name != "conv1.weight":
            torch.testing.assert_close(p, rgb_trunk[name])


def test_each_row_goes_through_its_own_sensor_encoder():
    clip = build_model(tiny_rs_spec())
    tower = clip.model.visual.eval()
    pixels = torch.randn(6, 13, 32, 32)
    sensor = torch.tensor([1, 0, 1, 1, 0, 0])
    with torch.no_grad():
        mixed = tower({"pixels": pixels, "sensor": sensor})
        s2 = tower.encoders["s2"](pixels[sensor == 1])
        s1 = tower.encoders["s1"](pixels[sensor == 0, :2])  # S1 rows use only their two bands
    torch.testing.assert_close(mixed[sensor == 1], s2)
    torch.testing.assert_close(mixed[sensor == 0], s1)
    # a batch of one sensor still gives every parameter a (zero) gradient, as DDP needs
    out = tower({"pixels": pixels[:2], "sensor": torch.tensor([1, 1])})
    out.sum().backward()
    assert all(p.grad is not None for p in tower.encoders["s1"].parameters())
    assert float(sum(p.grad.abs().sum() for p in tower.encoders["s1"].parameters())) == 0.0


def test_lock_image_freezes_both_encoders():
    clip = build_model(tiny_rs_spec(lock_image=True))
    assert not any(p.requires_grad for p in clip.model.visual.parameters())


def test_collate_pads_s1_rows_and_keeps_sensor_and_location(tmp_path):
    domain = get_domain("remote_sensing")
    spec = tiny_rs_spec()
    s2 = write_chip(tmp_path / "s2.tif", np.full((13, 32, 32), 1500, np.uint16), S2_BANDS)
    s1 = write_chip(tmp_path / "s1.tif", np.full((2, 32, 32), -11.0, np.float32), ("VV", "VH"), BACKSCATTER_UNITS="dB")
    transform = domain.transform(spec, train=False)
    batch = domain.collate([transform(domain.read(p)) for p in (s2, s1)])
    assert batch["pixels"].shape == (2, 13, 32, 32) and batch["sensor"].tolist() == [1, 0]
    assert float(batch["pixels"][1, 2:].abs().max()) == 0.0
    assert torch.isfinite(batch["lonlat"]).all() and batch["lonlat"][0, 0] < batch["lonlat"][0, 1]  # lon, lat
    features = build_model(spec).model.encode_image(batch, normalize=True)
    assert features.shape == (2, spec.embed_dim)


def test_training_augmentation_only_moves_optical_pixels(tmp_path):
    rng = np.random.default_rng(0)
    domain = get_domain("remote_sensing")
    spec = tiny_rs_spec()
    path = write_chip(tmp_path / "s2.tif", rng.integers(100, 5000, (13, 32, 32)).astype(np.uint16), S2_BANDS)
    sample = domain.read(path)
    plain = domain.transform(spec, train=False)(sample)["pixels"]
    train = domain.transform(spec, train=True)
    with seeded(3):
        a = train(sample)["pixels"]
    with seeded(3):
        b = train(sample)["pixels"]
    torch.testing.assert_close(a, b)  # augmentation follows the per-sample seed (exact resume)
    outs = []
    for seed in range(8):
        with seeded(seed):
            outs.append(train(sample)["pixels"])
    assert any(not torch.equal(o, plain) for o in outs)
    for o in outs:  # flips and rotations only: every band keeps exactly its values (no colour jitter)
        torch.testing.assert_close(o.flatten(1).sort(dim=1).values, plain.flatten(1).sort(dim=1).values)


def test_sar_speckle_is_multiplicative_and_bounded(tmp_path):
    domain = get_domain("remote_sensing")
    spec = tiny_rs_spec()
    path = write_chip(
        tmp_path / "s1.tif", np.full((2, 32, 32), 0.05, np.float32), ("VV", "VH"), BACKSCATTER_UNITS="power"
    )
    sample = domain.read(path)
    plain = domain.transform(spec, train=False)(sample)["pixels"]
    std = torch.tensor(spec.extra["sensors"]["s1"]["std"])[:, None, None]
    bound = 10 * np.log10(1 / 0.7) / std + 1e-4  # multiplier in [0.7, 1.3] is at most 1.55 dB
    noisy = []
    for seed in range(6):
        with seeded(seed):
            noisy.append(domain.transform(spec, train=True)(sample)["pixels"])
    assert any(float((n - plain).abs().max()) > 0 for n in noisy)
    for n in noisy:
        assert bool(((n - plain).abs() <= bound).all())


def test_a_model_without_an_encoder_for_the_sensor_refuses_it(tmp_path):
    domain = get_domain("remote_sensing")
    spec = tiny_rs_spec()
    only_s2 = spec.replace(extra={"sensors": {"s2": spec.extra["sensors"]["s2"]}})
    s1 = write_chip(tmp_path / "s1.tif", np.full((2, 8, 8), -11.0, np.float32), ("VV", "VH"), BACKSCATTER_UNITS="dB")
    with pytest.raises(InputError, match=r"s1\.tif: this model has no encoder for S1: it reads S2"):
        domain.transform(only_s2, train=False)(domain.read(s1))


def test_zero_filled_and_resampled_bands_are_warnings_in_the_prediction_rows(tmp_path):
    from clipzoo.core.predict import InputItem, Predictor

    twelve = tuple(b for b in S2_BANDS if b != "B10")
    l2a = write_chip(tmp_path / "l2a.tif", np.full((12, 16, 16), 1000, np.uint16), twelve)
    full = write_chip(tmp_path / "l1c.tif", np.full((13, 16, 16), 1000, np.uint16), S2_BANDS)
    folder = tmp_path / "patch"
    folder.mkdir()
    for band, res in (("B02", 10), ("B03", 10), ("B04", 10), ("B05", 20)):  # B05 at 20 m: resampled onto 10 m
        size = 160 // res
        profile = {"driver": "GTiff", "count": 1, "height": size, "width": size, "dtype": "uint16",
                   "crs": CRS.from_epsg(32631), "transform": from_origin(4e5, 5e6, res, res)}  # fmt: skip
        with rasterio.open(folder / f"S2A_patch_{band}.tif", "w", **profile) as dst:
            dst.write(np.full((1, size, size), 900, np.uint16))
    predictor = Predictor(build_model(tiny_rs_spec()), get_domain("remote_sensing"))
    items = [InputItem.from_path(p) for p in (l2a, full, folder)]
    rows = predictor.predict(items, labels=["forest", "sea"])
    assert [r.error for r in rows[:2]] == [None, None]
    assert rows[0].warnings == ["band B10 absent from the input: zero-filled, so the answer may be less reliable"]
    assert rows[1].warnings == [] and rows[1].to_dict()["warnings"] == []
    assert any("resampled bilinearly" in w and "B05 (20)" in w for w in rows[2].warnings), rows[2]


def test_a_sensor_absent_from_training_gets_a_scope_warning(tmp_path):
    from clipzoo.core.predict import InputItem, Predictor

    domain = get_domain("remote_sensing")
    s2 = write_chip(tmp_path / "s2.tif", np.full((13, 16, 16), 1000, np.uint16), S2_BANDS)
    s1 = write_chip(tmp_path / "s1.tif", np.full((2, 16, 16), -11.0, np.float32), ("VV", "VH"), BACKSCATTER_UNITS="dB")
    scope = domain.training_scope([str(s2), str(tmp_path / "missing.tif")])
    assert scope == {"sensor": ["s2"]}
    spec = tiny_rs_spec()
    predictor = Predictor(build_model(spec.replace(extra={**spec.extra, "scope": scope})), domain)
    s2_row, s1_row = predictor.predict([InputItem.from_path(s2), InputItem.from_path(s1)], labels=["forest", "sea"])
    assert s2_row.warnings == [] and s1_row.error is None
    assert s1_row.warnings == [
        "sensor S1 is outside the model's training data (S2): its encoder for this sensor was not trained on it; "
        "treat the answer with caution"
    ]
