"""The demo data (real GeoTIFFs written with rasterio, realistic signatures, unpaired sensors) and
`clipzoo demo remote_sensing --small` end to end, then a prediction on a real BigEarthNet patch."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
import rasterio
import torch
from clipzoo.cli.main import main
from clipzoo.core.domain import get_domain
from clipzoo.domains.remote_sensing import chip_lonlats
from clipzoo.domains.remote_sensing.bands import S1_BANDS, S2_BANDS
from clipzoo.domains.remote_sensing.demo_data import CLASSES, REGIONS, utm_to_lonlat
from clipzoo.domains.remote_sensing.location_eval import haversine_km
from clipzoo.registry.catalog import resolve

from tests.conftest import SHARED_DATA
from tests.domains.remote_sensing.test_remote_sensing_benchmarks import write_eurosat_ms
from tests.helpers.benchmarks import evaluated_on_benchmark
from tests.helpers.metrics import printed_metric


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return get_domain("remote_sensing").write_demo_data(tmp_path_factory.mktemp("rs-demo"), seed=0, small=True)


def test_demo_chips_are_georeferenced_geotiffs_of_both_sensors(demo):
    frame = pd.read_csv(demo.train)
    assert set(frame["sensor"]) == {"s1", "s2"} and set(frame["landcover"]) == set(CLASSES)
    assert frame.groupby("sensor")["landcover"].value_counts().max() <= 1 + len(frame) // (2 * len(CLASSES))
    domain = get_domain("remote_sensing")
    for row in frame.itertuples():
        with rasterio.open(demo.train.parent / row.path) as src:
            assert src.driver == "GTiff" and src.crs.to_epsg() == 32632 and src.res == (10.0, 10.0)
            if row.sensor == "s2":
                assert src.count == 13 and src.dtypes[0] == "uint16" and src.descriptions == S2_BANDS
            else:
                assert src.count == 2 and src.dtypes[0] == "float32" and src.descriptions == S1_BANDS
                assert src.tags()["BACKSCATTER_UNITS"] in ("power", "amplitude", "dB")
        sample = domain.read(demo.train.parent / row.path)
        assert sample.sensor == row.sensor
        assert sample.lonlat == pytest.approx((row.lon, row.lat), abs=1e-5)
    s1_xy = {tuple(np.round(v, 4)) for v in frame.loc[frame.sensor == "s1", ["lon", "lat"]].to_numpy()}
    s2_xy = {tuple(np.round(v, 4)) for v in frame.loc[frame.sensor == "s2", ["lon", "lat"]].to_numpy()}
    assert not s1_xy & s2_xy  # unpaired: no S1 chip shares a footprint with an S2 chip


def _class_means(demo, sensor):
    """Per class, the mean physical value of each band over the chips' valid pixels (reflectance or dB)."""
    from clipzoo.domains.remote_sensing.transforms import physical

    frame = pd.read_csv(demo.train)
    domain = get_domain("remote_sensing")
    out = {}
    for cls, rows in frame[frame.sensor == sensor].groupby("landcover"):
        values = []
        for path in rows["path"]:
            sample = domain.read(demo.train.parent / path)
            phys = physical(sample, sample.raster.data)
            values.append([float(np.median(b[v])) for b, v in zip(phys, sample.raster.valid, strict=True)])
        out[cls] = dict(zip(sample.bands, np.mean(values, axis=0), strict=True))
    return out


def test_signatures_are_physically_plausible(demo):
    s2 = _class_means(demo, "s2")
    ndvi = {c: (v["B08"] - v["B04"]) / (v["B08"] + v["B04"]) for c, v in s2.items()}
    assert ndvi["water"] < 0 < ndvi["urban"] < ndvi["forest"] and ndvi["cropland"] > 0.6
    assert s2["bare soil"]["B11"] > s2["bare soil"]["B04"]  # soil brightens into the SWIR
    s1 = _class_means(demo, "s1")
    assert s1["water"]["VV"] < s1["bare soil"]["VV"] < s1["forest"]["VV"] < s1["urban"]["VV"]
    assert s1["flooded"]["VV"] - s1["flooded"]["VH"] > s1["forest"]["VV"] - s1["forest"]["VH"]  # double bounce
    assert all(v["VH"] < v["VV"] for v in s1.values())


def test_prompt_wordings_are_absent_from_training_captions(demo):
    packs = get_domain("remote_sensing").prompt_packs()
    captions = " | ".join(pd.read_csv(demo.train)["caption"]).lower()
    for pack in packs.values():
        for template, synonyms in itertools.product(pack["templates"], pack["classes"].values()):
            for synonym in synonyms:
                assert template.format(synonym).lower().rstrip(".") not in captions
        for template in pack["templates"]:  # not even a template's framing
            assert template.split("{}")[0].strip().lower() not in captions


def test_demo_small_trains_registers_and_predicts_on_a_real_patch(capsys, tmp_path):
    assert main(["demo", "remote_sensing", "--small"]) == 0
    out = capsys.readouterr().out
    for key in ("landcover_top1", "s1_landcover_top1", "s2_landcover_top1", "landcover_text_to_image_nDCG@10",
                "s1_to_s2_nDCG@10", "landcover_geo_with_location_nDCG@10", "landcover_geo_text_only_nDCG@10",
                "s1_landcover_top1_with_location"):  # fmt: skip
        assert key in out
    # 6 land-cover classes, 4 held-out chips of each: chance 1/6; the small demo reaches 0.58
    assert printed_metric(out, "landcover_top1") >= 1 / 6 + 0.25
    assert "registered clipzoo-remote_sensing version" in out
    prediction = out.split("  -> ")[1].splitlines()[0]
    assert len(prediction.split(", ")) == 3
    assert resolve("clipzoo-remote_sensing@champion").version is not None
    evaluated_on_benchmark("clipzoo-remote_sensing@champion", "eurosat-ms", write_eurosat_ms(tmp_path))
    patch = SHARED_DATA / "remote_sensing" / "bigearthnet_s2"
    if not patch.is_dir():
        pytest.skip("../shared/data/remote_sensing is absent: no real patch to predict on")
    folder = next(patch.iterdir())
    args = ["predict", "clipzoo-remote_sensing@champion", str(folder), "--labels", *CLASSES, "--top-k", "2", "--json"]
    assert main(args) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["error"] is None and len(row["labels"]) == 2 and set(row["labels"]) <= set(CLASSES)


def test_land_cover_has_geographic_structure(demo):
    """Chips cluster near their class's regions (lon/lat from each GeoTIFF), so location carries signal."""
    frame = pd.concat([pd.read_csv(demo.train), pd.read_csv(demo.heldout)], ignore_index=True)
    lonlat = chip_lonlats([demo.train.parent / p for p in frame["path"]])
    torch.testing.assert_close(lonlat, torch.tensor(frame[["lon", "lat"]].to_numpy()), atol=1e-5, rtol=0)
    near = {  # chip i lies within 150 km of one of class c's regions
        c: np.any([haversine_km(lonlat, utm_to_lonlat(x, y)).numpy() < 150 for x, y in REGIONS[c]], axis=0)
        for c in CLASSES
    }
    labels = frame["landcover"].tolist()
    own = np.mean([near[c][i] for i, c in enumerate(labels)])
    other = np.mean([near[CLASSES[(CLASSES.index(c) + 1) % len(CLASSES)]][i] for i, c in enumerate(labels)])
    assert own > 0.6 and other < 0.15, (own, other)
