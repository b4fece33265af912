"""EuroSAT (RGB JPEG and 13-band GeoTIFF class folders) and BigEarthNet-19 (S2 and S1 v1.0 patch folders) on tiny
replicas of their published layouts, and the benchmark entries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
from clipzoo.core.errors import InputError
from clipzoo.domains.remote_sensing import read_sample
from clipzoo.domains.remote_sensing.benchmark_layouts import (
    BIGEARTHNET19,
    CORINE_TO_19,
    bigearthnet_19,
    eurosat,
)
from PIL import Image
from rasterio.crs import CRS
from rasterio.transform import from_origin

from tests.domains.remote_sensing.test_remote_sensing_convert import write_patch
from tests.helpers.benchmarks import checked_benchmarks
from tests.helpers.hub import hub_cache

__all__ = ["hub_cache"]  # a fixture

CLASSES = ["AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial", "Pasture", "PermanentCrop",
           "Residential", "River", "SeaLake"]  # fmt: skip


def _jpeg(path, seed):
    pixels = np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="JPEG")


def _ms_tif(path, seed):
    """A 64x64 13-band Sentinel-2 chip as EuroSAT_MS ships it: uint16, UTM, no band names."""
    data = np.random.default_rng(seed).integers(500, 3000, (13, 64, 64)).astype(np.uint16)
    profile = {"driver": "GTiff", "count": 13, "width": 64, "height": 64, "dtype": "uint16",
               "crs": CRS.from_epsg(32633), "transform": from_origin(500_000, 5_000_000, 10, 10)}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)


@pytest.fixture()
def eurosat_rgb(tmp_path):
    return write_eurosat_rgb(tmp_path)


def write_eurosat_rgb(tmp_path):
    root = tmp_path / "EuroSAT_RGB"
    for i, name in enumerate(CLASSES[:3]):
        (root / name).mkdir(parents=True)
        for n in (1, 2):
            _jpeg(root / name / f"{name}_{n}.jpg", 10 * i + n)
    return tmp_path


def test_eurosat_rgb_class_folders(eurosat_rgb, tmp_path):
    out = tmp_path / "out" / "eurosat.csv"
    assert "6 images, 3 classes" in eurosat(str(eurosat_rgb), str(out))
    manifest = pd.read_csv(out)
    assert list(manifest.columns) == ["path", "eurosat_class", "caption"]
    assert manifest["eurosat_class"].tolist() == ["AnnualCrop"] * 2 + ["Forest"] * 2 + ["HerbaceousVegetation"] * 2
    assert manifest["caption"][0] == "annual crop land" and manifest["caption"][4] == "brushland or shrubland"
    assert manifest["path"][0].endswith("EuroSAT_RGB/AnnualCrop/AnnualCrop_1.jpg")
    assert Image.open(out.parent / manifest["path"][0]).size == (64, 64)


def test_eurosat_original_zip_folder_2750(tmp_path):
    (tmp_path / "2750" / "SeaLake").mkdir(parents=True)
    _jpeg(tmp_path / "2750" / "SeaLake" / "SeaLake_1.jpg", 0)
    out = tmp_path / "m.csv"
    eurosat(str(tmp_path), str(out))
    assert pd.read_csv(out)["caption"].tolist() == ["lake or sea"]


def write_eurosat_ms(tmp_path):
    """EuroSAT_MS/<Class>/<Class>_<n>.tif, two 13-band chips for each of three classes."""
    for i, name in enumerate(["Forest", "Highway", "SeaLake"]):
        (tmp_path / "EuroSAT_MS" / name).mkdir(parents=True)
        for n in (1, 2):
            _ms_tif(tmp_path / "EuroSAT_MS" / name / f"{name}_{n}.tif", 10 * i + n)
    return tmp_path


def test_eurosat_ms_geotiffs_read_as_sentinel2(tmp_path):
    root = tmp_path / "EuroSAT_MS"
    for i, name in enumerate(["River", "Highway"]):
        (root / name).mkdir(parents=True)
        _ms_tif(root / name / f"{name}_{i + 1}.tif", i)
    out = tmp_path / "ms.csv"
    eurosat(str(tmp_path), str(out), format="ms")
    manifest = pd.read_csv(out)
    assert manifest["eurosat_class"].tolist() == ["Highway", "River"]
    sample = read_sample(out.parent / manifest["path"][0])
    assert sample.sensor == "s2" and len(sample.bands) == 13
    with pytest.raises(InputError, match=r"no \.tif/\.tiff image"):
        eurosat(str(_rgb_only(tmp_path)), str(out), format="ms")


def _rgb_only(tmp_path):
    root = tmp_path / "rgb_only" / "EuroSAT_RGB" / "Forest"
    root.mkdir(parents=True)
    _jpeg(root / "Forest_1.jpg", 0)
    return tmp_path / "rgb_only"


def test_eurosat_bad_layouts_name_the_folder(tmp_path):
    (tmp_path / "EuroSAT_RGB" / "Forest").mkdir(parents=True)
    (tmp_path / "EuroSAT_RGB" / "Desert").mkdir()
    with pytest.raises(InputError, match=r"unknown EuroSAT class folder\(s\) \['Desert'\]") as err:
        eurosat(str(tmp_path), str(tmp_path / "m.csv"))
    assert "EuroSAT_RGB" in str(err.value)
    with pytest.raises(InputError, match="no EuroSAT class folders"):
        eurosat(str(tmp_path / "EuroSAT_RGB" / "Forest"), str(tmp_path / "m.csv"))
    with pytest.raises(InputError, match="option format"):
        eurosat(str(tmp_path), str(tmp_path / "m.csv"), format="sar")


def test_bigearthnet_19_columns_for_s2_and_s1(tmp_path):
    root = tmp_path / "BigEarthNet"
    write_patch(root / "BigEarthNet-v1.0", "S2A_MSIL2A_20170613T101031_0_45",
                ["Coniferous forest", "Pastures", "Sea and ocean"], "s2")  # fmt: skip
    write_patch(root / "BigEarthNet-v1.0", "S2A_MSIL2A_20170613T101031_0_46", ["Airports", "Burnt areas"], "s2",
                x0=501_200)  # fmt: skip
    write_patch(root / "BigEarthNet-S1-v1.0", "S1A_IW_GRDH_1SDV_20170613T042208_33UUP_61_39",
                ["Water courses", "Peatbogs", "Salines"], "s1")  # fmt: skip
    out = tmp_path / "s2.csv"
    assert "1 s2 patches" in bigearthnet_19(str(root), str(out))  # the airport/burnt patch has no 19-class label
    s2 = pd.read_csv(out)
    assert list(s2.columns[-19:]) == list(BIGEARTHNET19)
    row = s2.iloc[0]
    assert row["Coniferous forest"] == 1 and row["Pastures"] == 1 and row["Marine waters"] == 1
    assert int(row[list(BIGEARTHNET19)].sum()) == 3
    bigearthnet_19(str(root), str(tmp_path / "s1.csv"), sensor="s1")
    s1 = pd.read_csv(tmp_path / "s1.csv")
    assert s1["sensor"].tolist() == ["s1"]
    assert {c for c in BIGEARTHNET19 if s1.iloc[0][c] == 1} == {"Inland waters", "Inland wetlands", "Coastal wetlands"}
    with pytest.raises(InputError, match="option sensor"):
        bigearthnet_19(str(root), str(out), sensor="s3")


def test_bigearthnet_19_nomenclature_covers_the_published_mapping():
    assert len(BIGEARTHNET19) == 19 and len(CORINE_TO_19) == 32  # 43 labels, 11 of them dropped
    assert CORINE_TO_19["Annual crops associated with permanent crops"] == "Permanent crops"
    assert CORINE_TO_19["Sparsely vegetated areas"] == "Natural grassland and sparsely vegetated areas"
    assert "Bare rock" not in CORINE_TO_19 and "Intertidal flats" not in CORINE_TO_19


def test_remote_sensing_benchmarks_use_the_published_prompts():
    benchmarks = checked_benchmarks("remote_sensing")
    assert set(benchmarks) == {"eurosat", "eurosat-ms", "bigearthnet-s2", "bigearthnet-s1"}
    rgb, ms = benchmarks["eurosat"], benchmarks["eurosat-ms"]
    assert rgb.options == {"format": "rgb"} and ms.options == {"format": "ms"}
    assert rgb.classes == ms.classes and list(rgb.classes) == CLASSES
    assert rgb.classes["Residential"] == ["residential buildings or homes or apartments"]
    assert rgb.templates == ("a centered satellite photo of {}.", "a centered satellite photo of a {}.",
                             "a centered satellite photo of the {}.")  # fmt: skip
    anchors = {a.model: a.value for a in rgb.anchors}
    assert anchors["OpenAI CLIP ViT-B/32 (openai)"] == pytest.approx(0.5072)  # CLIP_benchmark vtab/eurosat acc1
    assert all("CLIP_benchmark" in a.source for a in rgb.anchors) and not ms.anchors
    for name, sensor in (("bigearthnet-s2", "s2"), ("bigearthnet-s1", "s1")):
        bench = benchmarks[name]
        assert bench.task == "multilabel" and bench.metric == "mean_auroc" and bench.options == {"sensor": sensor}
        assert list(bench.classes) == list(BIGEARTHNET19)


def test_an_imported_rgb_model_is_evaluated_on_eurosat_rgb(hub_cache, tmp_path, capsys):
    """EuroSAT's RGB JPEGs are what RemoteCLIP-style checkpoints read: an imported one is measured end to end."""
    from tests.cli.test_cli import clipzoo_inprocess
    from tests.helpers.benchmarks import evaluated_on_benchmark
    from tests.helpers.hub import write_open_clip_repo

    write_open_clip_repo(hub_cache, "clipzoo-test/rgb-eurosat", seed=5)
    proc = clipzoo_inprocess(capsys, "import", "hf-hub:clipzoo-test/rgb-eurosat", "--domain", "remote_sensing",
                             "--name", "rgb-eurosat")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = evaluated_on_benchmark("rgb-eurosat", "eurosat", write_eurosat_rgb(tmp_path))
    assert "published: OpenAI CLIP ViT-B/32 (openai) top1 = 0.5072" in out
