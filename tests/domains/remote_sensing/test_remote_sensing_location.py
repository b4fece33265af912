"""GeoCLOSP: spherical harmonics of (lon, lat), the SIREN location encoder, its contrastive term, its weights in the
model package, and location-aware retrieval on chips whose lon/lat come from their GeoTIFF georeferencing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
import torch
from clipzoo.core.data import Manifest, ManifestDataset, seed_everything
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.loss import create_loss
from clipzoo.core.model import build_model
from clipzoo.core.train import TrainConfig
from clipzoo.domains.remote_sensing import chip_lonlats
from clipzoo.domains.remote_sensing.demo_data import write_demo_dataset
from clipzoo.domains.remote_sensing.geo_train import GeoTrainer
from clipzoo.domains.remote_sensing.location import (
    LOCATION_KEY,
    LocationConfig,
    LocationEncoder,
    lonlat_tensor,
    spherical_harmonics,
)
from clipzoo.domains.remote_sensing.location_eval import haversine_km, location_metrics, within_radius
from clipzoo.registry.package import load_package, write_package
from rasterio.crs import CRS
from rasterio.transform import from_origin

from tests.conftest import TINY_OPEN_CLIP_CFG

SMALL_LOCATION = {"degree": 4, "hidden": 32, "layers": 2}


def geo_spec(**location):
    spec = get_domain("remote_sensing").default_spec().replace(model_cfg=TINY_OPEN_CLIP_CFG, image_size=32)
    return spec.replace(extra={**spec.extra, LOCATION_KEY: {**SMALL_LOCATION, **location}})


def random_lonlat(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 2, generator=g, dtype=torch.float64) * torch.tensor([360.0, 180.0]) - torch.tensor(
        [180.0, 90.0]
    )


def test_spherical_harmonics_match_hand_computed_low_degrees():
    lonlat = random_lonlat(50)
    lon, lat = torch.deg2rad(lonlat[:, 0]), torch.deg2rad(lonlat[:, 1])
    y = spherical_harmonics(lonlat, degree=2)
    assert y.shape == (50, 9) and y.dtype == torch.float64
    c1 = math.sqrt(3 / (4 * math.pi))
    expected = {
        0: torch.full_like(lon, 1 / (2 * math.sqrt(math.pi))),  # Y_0^0
        1: c1 * torch.cos(lat) * torch.sin(lon),  # Y_1^-1 ~ y
        2: c1 * torch.sin(lat),  # Y_1^0 ~ z
        3: c1 * torch.cos(lat) * torch.cos(lon),  # Y_1^1 ~ x
        6: math.sqrt(5 / (16 * math.pi)) * (3 * torch.sin(lat) ** 2 - 1),  # Y_2^0
        8: math.sqrt(15 / (16 * math.pi)) * torch.cos(lat) ** 2 * torch.cos(2 * lon),  # Y_2^2
    }
    for column, values in expected.items():
        torch.testing.assert_close(y[:, column], values)
    # orthonormal on the sphere: a midpoint quadrature of Y Y^T over a lon/lat grid is the identity
    lat_g, lon_g = torch.meshgrid(torch.linspace(-89.5, 89.5, 180), torch.linspace(-179.5, 179.5, 360), indexing="ij")
    grid = torch.stack([lon_g, lat_g], dim=-1).reshape(-1, 2).double()
    y = spherical_harmonics(grid, degree=3)
    area = torch.cos(torch.deg2rad(grid[:, 1])) * math.radians(1.0) ** 2
    gram = (y * area[:, None]).T @ y
    torch.testing.assert_close(gram, torch.eye(16, dtype=torch.float64), atol=2e-3, rtol=0)


def test_lonlat_order_is_explicit_and_checked():
    assert lonlat_tensor(lon=120.0, lat=30.0).tolist() == [120.0, 30.0]
    with pytest.raises(InputError, match=r"latitude 120 outside \[-90, 90\].*swapped"):
        lonlat_tensor(lon=30.0, lat=120.0)
    with pytest.raises(InputError, match="longitude 200 outside"):
        spherical_harmonics(torch.tensor([[200.0, 10.0]]), degree=2)
    with pytest.raises(InputError, match="not finite"):
        spherical_harmonics(torch.tensor([[float("nan"), 10.0]]), degree=2)
    with pytest.raises(InputError, match=r"\(lon, lat\)"):
        spherical_harmonics(torch.zeros(4, 3), degree=2)
    # within range, swapping is not an error but another place: the encoding differs
    encoder = LocationEncoder(LocationConfig(**SMALL_LOCATION), embed_dim=16)
    paris, swapped = torch.tensor([[2.35, 48.86]]), torch.tensor([[48.86, 2.35]])
    assert not torch.allclose(encoder(paris), encoder(swapped))
    assert not torch.allclose(spherical_harmonics(paris, 2), spherical_harmonics(swapped, 2))


def test_unknown_location_settings_are_named():
    with pytest.raises(InputError, match="unknown location_encoder settings"):
        build_model(geo_spec(degre=3))


def test_training_with_the_location_term_lowers_it(tmp_path):
    paths = write_demo_dataset(tmp_path / "demo", n_train=32, n_heldout=2, size=32)
    domain = get_domain("remote_sensing")
    spec = geo_spec()
    seed_everything(0)
    clip = build_model(spec)
    dataset = ManifestDataset(Manifest.read(paths["train"]), domain, domain.transform(spec, train=True))
    config = TrainConfig(epochs=6, batch_size=16, lr=3e-3, warmup_steps=2, checkpoint_every=1000)
    trainer = GeoTrainer(clip, domain, dataset, config, tmp_path / "run")
    state = trainer.fit(resume=False)
    losses = trainer.location_losses
    assert len(losses) == state.global_step == 24
    assert np.mean(losses[-4:]) < np.mean(losses[:4]) - 0.3, losses
    # the reported loss is CLOSP + the location term, so it exceeds the location term alone
    assert all(total > loc for total, loc in zip(state.step_losses, losses, strict=True))


def test_location_weights_travel_with_the_model_package(tmp_path):
    clip = build_model(geo_spec())
    with torch.no_grad():
        for p in clip.model.location_encoder.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    assert any(k.startswith(f"{LOCATION_KEY}.siren.") for k in clip.model.state_dict())
    write_package(clip, tmp_path / "pkg", card="card", metadata={})
    loaded = load_package(tmp_path / "pkg")
    points = random_lonlat(8, seed=3)
    with torch.no_grad():
        clip.model.eval()
        torch.testing.assert_close(loaded.model.location_encoder(points), clip.model.location_encoder(points))
    assert isinstance(loaded.model.location_encoder, LocationEncoder)
    assert loaded.model.location_encoder.config == LocationConfig(**SMALL_LOCATION)


def test_training_refuses_a_raster_without_crs_when_location_is_required(tmp_path):
    domain = get_domain("remote_sensing")
    path = tmp_path / "no_crs.tif"
    profile = {"driver": "GTiff", "count": 2, "height": 32, "width": 32, "dtype": "float32",
               "transform": from_origin(0, 0, 1, 1)}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full((2, 32, 32), -12.0, np.float32))
        dst.descriptions = ("VV", "VH")
        dst.update_tags(BACKSCATTER_UNITS="dB")
    sample = domain.read(path)  # reading for inference needs no location
    assert torch.isnan(domain.transform(geo_spec(), train=False)(sample)["lonlat"]).all()
    with pytest.raises(InputError, match=r"no_crs\.tif: raster has no CRS.*location encoder"):
        domain.transform(geo_spec(), train=True)(sample)
    with pytest.raises(InputError, match=r"no_crs\.tif: raster has no CRS"):
        chip_lonlats([path])


def test_radius_filter_uses_great_circle_distance():
    paris, london = (2.3522, 48.8566), (-0.1276, 51.5072)
    assert haversine_km(torch.tensor([london]), paris).item() == pytest.approx(343.5, abs=1.0)
    assert haversine_km(torch.tensor([[0.0, 0.0]]), (180.0, 0.0)).item() == pytest.approx(math.pi * 6371.0, rel=1e-3)
    mask = within_radius(torch.tensor([london, (13.405, 52.52)]), paris, radius_km=500)
    assert mask.tolist() == [True, False]


def _write_located_chips(folder, lonlats):
    """One S1 GeoTIFF per (lon, lat), in the UTM zone of its longitude, whose centre is that point."""
    from rasterio.warp import transform as warp

    paths = []
    for i, (lon, lat) in enumerate(lonlats):
        crs = CRS.from_epsg(32600 + int((lon + 180) // 6) + 1)
        (x,), (y,) = warp(CRS.from_epsg(4326), crs, [lon], [lat])
        path = folder / f"{i:03d}.tif"
        with rasterio.open(path, "w", driver="GTiff", count=2, height=8, width=8, dtype="float32", crs=crs,
                           transform=from_origin(x - 40, y + 40, 10, 10)) as dst:  # fmt: skip
            dst.write(np.full((2, 8, 8), -12.0, np.float32))
            dst.update_tags(BACKSCATTER_UNITS="dB")
        paths.append(path)
    return paths


def test_location_aware_retrieval_beats_text_only(tmp_path):
    """Two classes whose images the encoder barely tells apart, found in two regions: a location encoder trained
    on the GeoCLOSP term (location <-> image) lifts text -> image retrieval over chips located by their GeoTIFFs."""
    torch.manual_seed(0)
    dim, regions = 16, torch.tensor([[10.0, 45.0], [-60.0, -10.0]], dtype=torch.float64)
    queries = torch.eye(dim)[:2]  # the two classes' text embeddings

    def draw(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        labels = torch.arange(n) % 2
        lonlat = regions[labels] + torch.randn(n, 2, generator=g, dtype=torch.float64) * 3.0
        images = 0.15 * queries[labels] + torch.randn(n, dim, generator=g) / math.sqrt(dim)
        return labels, lonlat, torch.nn.functional.normalize(images, dim=-1)

    _, train_lonlat, train_images = draw(256, seed=1)
    encoder = LocationEncoder(LocationConfig(degree=4, hidden=64, layers=2), dim)
    loss_fn = create_loss("clip")
    optimizer = torch.optim.Adam(encoder.parameters(), lr=3e-3)
    for step in range(150):
        rows = torch.randint(0, 256, (64,), generator=torch.Generator().manual_seed(step))
        loss = loss_fn(train_images[rows], encoder(train_lonlat[rows]), encoder.scale())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    labels, lonlat, images = draw(40, seed=2)
    located = chip_lonlats(_write_located_chips(tmp_path, lonlat.tolist()))  # back from the rasters' georeferencing
    torch.testing.assert_close(located, lonlat, atol=1e-6, rtol=0)
    with torch.no_grad():
        loc = encoder.eval()(located)
    sensors = np.array(["s1"] * 40)
    out = location_metrics(queries, labels.numpy(), sensors, images, loc, located, weight=1.0, radius_km=1000.0)
    assert out["landcover_geo_queries"] == 40
    assert out["landcover_geo_with_location_nDCG@10"] > out["landcover_geo_text_only_nDCG@10"] + 0.1, out
    assert out["s1_landcover_top1_with_location"] > out["s1_landcover_top1_text_only"] + 0.1, out
    assert out["s1_landcover_top1_with_location"] >= 0.9


def test_the_train_job_uses_the_geo_trainer_for_remote_sensing_only():
    from clipzoo.core.domain import get_domain

    assert get_domain("remote_sensing").trainer_class() is GeoTrainer
    assert get_domain("image").trainer_class() is None  # core's Trainer


def test_classify_with_location_answers_located_chips_and_names_one_without_crs(tmp_path):
    from clipzoo.core.predict import InputItem, Predictor
    from clipzoo.domains.remote_sensing.geo_predict import TASK

    located = _write_located_chips(tmp_path, [(9.19, 45.46)])[0]
    profile = {"driver": "GTiff", "count": 2, "height": 8, "width": 8, "dtype": "float32"}
    unlocated = tmp_path / "no_crs.tif"
    with rasterio.open(unlocated, "w", **profile) as dst:
        dst.write(np.full((2, 8, 8), -12.0, np.float32))
        dst.update_tags(BACKSCATTER_UNITS="dB")
    predictor = Predictor(build_model(geo_spec()), get_domain("remote_sensing"))
    items = [InputItem.from_path(located), InputItem.from_path(unlocated)]
    labels = ["water", "forest", "urban"]
    with_location, without_crs = predictor.predict(items, labels=labels, task=TASK, top_k=3)
    assert without_crs.error is not None and "no_crs.tif: raster has no CRS" in without_crs.error
    assert with_location.error is None and sorted(with_location.labels) == sorted(labels)
    assert with_location.extra["lon"] == pytest.approx(9.19, abs=1e-6)
    assert with_location.extra["lat"] == pytest.approx(45.46, abs=1e-6)
    # weight 0 is plain zero-shot classification; the location term changes the scores
    plain = predictor.predict(items[:1], labels=labels, top_k=3)[0]
    zero = predictor.predict(items[:1], labels=labels, task=TASK, top_k=3, options={"location_weight": 0.0})[0]
    assert dict(zip(zero.labels, zero.scores, strict=True)) == pytest.approx(
        dict(zip(plain.labels, plain.scores, strict=True)), abs=1e-5
    )
    assert dict(zip(with_location.labels, with_location.scores, strict=True)) != pytest.approx(
        dict(zip(plain.labels, plain.scores, strict=True)), abs=1e-5
    )
