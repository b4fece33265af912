"""CRC-100K's test split (CRC-VAL-HE-7K/<CLASS>/<CLASS>-<ID>.tif, all 9 classes) and slide-level subtyping (a folder of
TCGA slides + MI-Zero's labels CSV) on tiny replicas of their published layouts, and the benchmark entries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile
from clipzoo.core.errors import InputError
from clipzoo.domains.pathology.benchmark_layouts import crc_val_he_7k, slides
from clipzoo.domains.pathology.pyramid import write_pyramidal_tiff
from clipzoo.domains.pathology.slide import open_slide

from tests.helpers.benchmarks import checked_benchmarks

CRC_CLASSES = ["ADI", "BACK", "DEB", "LYM", "MUC", "MUS", "NORM", "STR", "TUM"]
MIZERO_COLUMNS = "slide_id,case_id,project_id,Diagnosis,OncoTreeCode,level0_mag"
LUAD = "TCGA-05-4244-01Z-00-DX1.d4ff32cd-38cf-40ea-8213-45c2b100ac01"
LUSC = "TCGA-18-3406-01Z-00-DX1.A0A4A5D8-D1E1-4C2D-8B8D-2B6D0C8B1C1E"


@pytest.fixture()
def crc(tmp_path):
    return write_crc(tmp_path)


def write_crc(tmp_path):
    """CRC-VAL-HE-7K with two 224 px RGB TIFF tiles per class, named as the release names them."""
    rng = np.random.default_rng(0)
    for code in CRC_CLASSES:
        folder = tmp_path / "CRC-VAL-HE-7K" / code
        folder.mkdir(parents=True)
        for tile_id in ("TCGA-AAICEQFN", "TCGA-AANKCFCC"):
            tifffile.imwrite(folder / f"{code}-{tile_id}.tif", rng.integers(0, 255, (224, 224, 3), dtype=np.uint8))
    return tmp_path


def test_crc_val_he_7k_keeps_all_nine_classes(crc, tmp_path):
    out = tmp_path / "out" / "crc.csv"
    for source in (crc, crc / "CRC-VAL-HE-7K"):  # the folder holding the split, or the split itself
        assert "18 tiles" in crc_val_he_7k(str(source), str(out))
    manifest = pd.read_csv(out)
    assert sorted(manifest["crc_class"].unique()) == CRC_CLASSES
    assert manifest["crc_class"].value_counts().eq(2).all()
    assert manifest.loc[manifest["crc_class"] == "MUC", "caption"].iloc[0] == "mucus"
    assert manifest["path"][0].endswith("CRC-VAL-HE-7K/ADI/ADI-TCGA-AAICEQFN.tif")
    assert tifffile.imread(out.parent / manifest["path"][0]).shape == (224, 224, 3)


def _slide(path, seed):
    rng = np.random.default_rng(seed)
    img = rng.integers(120, 230, (512, 768, 3), dtype=np.uint8)
    write_pyramidal_tiff(path, lambda y0, y1: img[y0:y1], 512, 768, mpp=0.25, levels=2, tile=256)


@pytest.fixture()
def nsclc(tmp_path):
    return write_nsclc(tmp_path)


def write_nsclc(tmp_path):
    """Slides as GDC downloads them (<file uuid>/<slide_id>.svs; pyramidal TIFFs here) and MI-Zero's labels CSV."""
    root = tmp_path / "tcga_nsclc"
    for i, slide_id in enumerate((LUAD, LUSC)):
        folder = root / "slides" / f"{i:08d}-0000-4000-8000-000000000000"
        folder.mkdir(parents=True)
        _slide(folder / f"{slide_id}.svs", i)
    (root / "labels.csv").write_text(
        f"{MIZERO_COLUMNS}\n"
        f"{LUAD},TCGA-05-4244,TCGA-LUAD,Lung Adenocarcinoma,LUAD,40.0\n"
        f"{LUSC},TCGA-18-3406,TCGA-LUSC,Lung Squamous Cell Carcinoma,LUSC,20.0\n"
    )
    return root


def test_slides_one_row_per_slide_with_its_oncotree_code(nsclc, tmp_path):
    out = tmp_path / "out" / "slides.csv"
    assert "2 slides" in slides(str(nsclc), str(out), slides="slides", classes=["LUAD", "LUSC"])
    manifest = pd.read_csv(out)
    assert list(manifest.columns) == ["path", "slide_id", "diagnosis"]
    assert manifest["slide_id"].tolist() == [LUAD, LUSC]
    assert manifest["diagnosis"].tolist() == ["LUAD", "LUSC"]
    assert manifest["path"][1].endswith(f"{LUSC}.svs")
    with tifffile.TiffFile(out.parent / manifest["path"][0]) as tif:
        assert len(tif.series[0].levels) == 2
    slides(str(nsclc), str(out), slides="slides", classes=["LUSC"])
    assert pd.read_csv(out)["diagnosis"].tolist() == ["LUSC"]


def test_slides_open_through_the_domain_reader_when_tiff(nsclc, tmp_path):
    """The same layout with .tif slides (as clipzoo's own pyramids): the manifest path opens as a slide."""
    svs = next((nsclc / "slides").rglob(f"{LUAD}.svs"))
    svs.rename(svs.with_suffix(".tif"))
    out = tmp_path / "s.csv"
    slides(str(nsclc), str(out), slides="slides")
    with open_slide(out.parent / pd.read_csv(out)["path"][0]) as slide:
        assert slide.level_dimensions[0] == (768, 512)


def test_slides_bad_layouts_name_the_csv(nsclc, tmp_path):
    next((nsclc / "slides").rglob(f"{LUSC}.svs")).unlink()
    with pytest.raises(InputError, match=r"1 slide\(s\) of the labels CSV") as err:
        slides(str(nsclc), str(tmp_path / "s.csv"), slides="slides")
    assert "labels.csv" in str(err.value)
    slides(str(nsclc), str(tmp_path / "s.csv"), slides="slides", skip_missing=True)
    assert len(pd.read_csv(tmp_path / "s.csv")) == 1
    with pytest.raises(InputError, match=r"lacks column\(s\) \['Subtype'\]"):
        slides(str(nsclc), str(tmp_path / "s.csv"), slides="slides", label_column="Subtype")
    with pytest.raises(InputError, match="slide labels CSV not found"):
        slides(str(nsclc), str(tmp_path / "s.csv"), labels="tcga_nsclc.csv")


def test_pathology_benchmarks_use_conchs_prompts():
    benchmarks = checked_benchmarks("pathology")
    crc = benchmarks["crc100k-9"]
    assert crc.layout == "crc-val-he-7k" and crc.label_column == "crc_class" and list(crc.classes) == CRC_CLASSES
    assert crc.classes["DEB"] == ["debris", "colorectal adenocarcinoma debris and necrosis", "necrosis",
                                  "necrotic debris"]  # fmt: skip
    assert crc.classes["BACK"][1] == "penmarking"
    assert len(crc.templates) == 22
    assert crc.templates[0] == "{}." and "an H&E stained image showing {}." in crc.templates
    nsclc = benchmarks["tcga-nsclc-slides"]
    assert nsclc.task == "slide" and nsclc.metric == "balanced_accuracy" and nsclc.label_column == "diagnosis"
    assert nsclc.classes["LUSC"] == ["squamous cell carcinoma", "lung squamous cell carcinoma",
                                     "squamous cell carcinoma of the lung", "LUSC"]  # fmt: skip
    assert nsclc.templates == crc.templates
    assert nsclc.options["label_column"] == "OncoTreeCode" and nsclc.options["classes"] == ["LUAD", "LUSC"]
