"""The BigEarthNet converter on a tiny replica written with rasterio, and on the real patches when present; the
manifest it writes is read back through the domain and trains."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import rasterio
from clipzoo.cli.main import main
from clipzoo.core.data import Manifest
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.domains.remote_sensing.bands import S2_BANDS
from clipzoo.domains.remote_sensing.convert import convert
from rasterio.crs import CRS
from rasterio.transform import from_origin

from tests.conftest import SHARED_DATA

RES = {"B02": 10, "B03": 10, "B04": 10, "B08": 10, "B05": 20, "B06": 20, "B07": 20, "B8A": 20, "B11": 20,
       "B12": 20, "B01": 60, "B09": 60}  # fmt: skip


def _band(path, value, res, dtype, x0, y0):
    n = 1200 // res
    profile = {"driver": "GTiff", "count": 1, "width": n, "height": n, "dtype": dtype,
               "crs": CRS.from_epsg(32634), "transform": from_origin(x0, y0, res, res)}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full((1, n, n), value, dtype))


def write_patch(root, name, labels, sensor, x0=500_000, y0=6_000_000):
    folder = root / name
    folder.mkdir(parents=True)
    if sensor == "s2":
        for band, res in RES.items():
            _band(folder / f"{name}_{band}.tif", 500 + 10 * S2_BANDS.index(band), res, "uint16", x0, y0)
    else:
        for band, level in {"VV": -9.0, "VH": -16.0}.items():
            _band(folder / f"{name}_{band}.tif", level, 10, "float32", x0, y0)
    (folder / f"{name}_labels_metadata.json").write_text(json.dumps({"labels": labels}))
    return folder


@pytest.fixture()
def replica(tmp_path):
    root = tmp_path / "BigEarthNet"
    write_patch(root / "S2", "S2A_MSIL2A_20170613T101031_0_45", ["Coniferous forest", "Pastures"], "s2")
    write_patch(root / "S2", "S2A_MSIL2A_20170613T101031_0_46", ["Pastures"], "s2", x0=501_200)
    write_patch(root / "S1", "S1A_IW_GRDH_1SDV_20170613T042208_0_45", ["Water courses", "Mixed forest"], "s1")
    return root


def test_replica_converts_to_a_manifest_the_domain_reads(replica, tmp_path):
    out = tmp_path / "out" / "train.csv"
    frame = convert(replica, out)
    assert len(frame) == 2  # the pastures-only patch maps to no land-cover class
    assert frame["sensor"].tolist() == ["s1", "s2"]
    assert frame["landcover"].tolist() == ["water", "forest"]
    assert frame["caption"].tolist() == ["water courses and mixed forest", "coniferous forest and pastures"]
    manifest = Manifest.read(out)
    domain = get_domain("remote_sensing")
    for i in range(len(manifest)):
        sample = domain.read(manifest.file(i))
        assert sample.sensor == manifest.frame.at[i, "sensor"]
        assert sample.lonlat == pytest.approx((manifest.frame.at[i, "lon"], manifest.frame.at[i, "lat"]), abs=1e-5)
        assert sample.raster.data.shape[-2:] == (120, 120)
    s1 = domain.read(manifest.file(0))
    assert s1.units == "dB"  # the BigEarthNet-S1 layout declares dB
    assert len(convert(replica, tmp_path / "all.parquet", keep_unmapped=True)) == 3
    kept = pd.read_parquet(tmp_path / "all.parquet").set_index("labels")
    assert kept.at["Pastures", "landcover"] == ""


def test_converter_cli_filters_by_sensor_and_names_bad_roots(replica, tmp_path, capsys):
    convert_cli = ["convert", "remote_sensing", "bigearthnet"]
    assert main([*convert_cli, str(replica), str(tmp_path / "s2.jsonl"), "--option", "sensor=s2"]) == 0
    assert "1 patches" in capsys.readouterr().out
    assert len(Manifest.read(tmp_path / "s2.jsonl")) == 1
    assert main([*convert_cli, str(tmp_path / "nowhere"), str(tmp_path / "x.csv")]) == 2
    assert "nowhere: BigEarthNet root folder not found" in capsys.readouterr().err
    assert main([*convert_cli, str(replica), str(tmp_path / "x.csv"), "--option", "sensor=s3"]) == 2
    assert "option sensor must be one of ['s1', 's2', 'both']" in capsys.readouterr().err
    with pytest.raises(InputError, match=r"manifest must end in"):
        convert(replica, tmp_path / "x.txt")


@pytest.mark.skipif(not (SHARED_DATA / "remote_sensing").is_dir(), reason="../shared/data is absent")
def test_real_bigearthnet_patches_convert(tmp_path):
    frame = convert(SHARED_DATA / "remote_sensing", tmp_path / "real.csv")
    assert sorted(frame["sensor"]) == ["s1", "s2"]
    assert set(frame["landcover"]) == {"cropland"}  # Non-irrigated arable land
    assert frame["caption"].iloc[0] == "non-irrigated arable land and pastures"
    assert frame["lon"].iloc[0] == pytest.approx(frame["lon"].iloc[1])  # the same footprint, two sensors
