"""Users' data: manifests from a small CRC-100K replica (class folders of .tif tiles) and a Quilt/ARCH-style
caption table, read back through the domain's reader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile
from clipzoo.cli.main import main
from clipzoo.core.data import Manifest, ManifestDataset
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.domains.pathology.convert import convert_captions, convert_crc100k
from clipzoo.domains.pathology.synthetic import render_tissue
from PIL import Image


@pytest.fixture()
def crc_replica(tmp_path):
    root = tmp_path / "NCT-CRC-HE-100K"
    rng = np.random.default_rng(0)
    for code, tissue in (("ADI", "adipose"), ("LYM", "lymphocytes"), ("TUM", "tumour"), ("BACK", "adipose")):
        (root / code).mkdir(parents=True)
        for i in range(2):
            tifffile.imwrite(root / code / f"{code}-{i}.tif", render_tissue(tissue, rng, 48), photometric="rgb")
    return root


def test_crc100k_class_folders_become_a_manifest(crc_replica, tmp_path):
    out = convert_crc100k(crc_replica, tmp_path / "crc.csv")
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["path", "caption", "tissue", "crc_class"]
    assert len(frame) == 6 and set(frame["crc_class"]) == {"ADI", "LYM", "TUM"}  # BACK left out by default
    assert set(frame["tissue"]) <= set(get_domain("pathology").prompt_packs()["tissue"]["classes"])
    assert not frame["path"].str.startswith("/").any()
    domain = get_domain("pathology")
    dataset = ManifestDataset(Manifest.read(out), domain, domain.transform(domain.default_spec(), train=False))
    assert dataset[0]["input"].shape == (3, 64, 64) and dataset[0]["caption"] == frame["caption"][0]
    assert len(pd.read_csv(convert_crc100k(crc_replica, tmp_path / "all.csv", keep_all=True))) == 8


def test_crc100k_unknown_folder_is_named(crc_replica, tmp_path):
    (crc_replica / "XYZ").mkdir()
    with pytest.raises(InputError, match=r"unknown CRC-100K class folder\(s\) \['XYZ'\]"):
        convert_crc100k(crc_replica, tmp_path / "crc.csv")


def test_caption_table_becomes_a_manifest_and_bad_rows_are_left_out(tmp_path, capsys):
    images = tmp_path / "quilt"
    images.mkdir()
    rng = np.random.default_rng(1)
    for name in ("a.jpg", "b.png"):
        Image.fromarray(render_tissue("stroma", rng, 40)).save(images / name)
    table = tmp_path / "lookup.csv"
    pd.DataFrame(
        {
            "image_path": ["a.jpg", "b.png", "missing.png", "a.jpg"],
            "caption": ["dense  collagen\nwith spindle cells", "fibrous stroma", "lost", None],
        }
    ).to_csv(table, index=False)
    out = tmp_path / "manifests" / "quilt.csv"
    assert main(["convert", "pathology", "captions", str(table), str(out), "--option", f"images_root={images}"]) == 0
    assert f"wrote {out} (2 rows; 2 left out: missing image or caption)" in capsys.readouterr().out
    frame = pd.read_csv(out)
    assert frame["caption"].tolist() == ["dense collagen with spindle cells", "fibrous stroma"]
    assert Manifest.read(out).file(1).is_file()
    _, dropped = convert_captions(table, tmp_path / "again.csv", images_root=images)
    assert dropped == 2


def test_caption_table_errors_are_named(tmp_path, capsys):
    table = tmp_path / "t.csv"
    pd.DataFrame({"img": ["x.png"], "text": ["y"]}).to_csv(table, index=False)
    with pytest.raises(InputError, match=r"t\.csv: caption table lacks column\(s\) \['image_path', 'caption'\]"):
        convert_captions(table, tmp_path / "o.csv")
    with pytest.raises(InputError, match="none of the 1 rows"):
        convert_captions(table, tmp_path / "o.csv", image_column="img", caption_column="text")
    assert main(["convert", "pathology", "captions", str(tmp_path / "nope.csv"), str(tmp_path / "o.csv")]) == 2
    assert "nope.csv: caption table not found" in capsys.readouterr().err


def test_crc100k_through_the_convert_command(crc_replica, tmp_path, capsys):
    out = tmp_path / "all.csv"
    assert main(["convert", "pathology", "crc100k", str(crc_replica), str(out), "--option", "keep_all=true"]) == 0
    assert f"wrote {out} (8 tiles)" in capsys.readouterr().out
    assert len(pd.read_csv(out)) == 8


def test_convert_unknown_option_names_the_accepted_ones(tmp_path, capsys):
    table = tmp_path / "t.csv"
    pd.DataFrame({"image_path": ["x.png"], "caption": ["y"]}).to_csv(table, index=False)
    out = tmp_path / "o.csv"
    assert main(["convert", "pathology", "captions", str(table), str(out), "--option", "image_col=img"]) == 2
    err = capsys.readouterr().err
    assert "image_col" in err
    assert all(name in err for name in ("images_root", "image_column", "caption_column")), err
    assert not out.exists()


def test_convert_with_only_a_domain_lists_its_layouts(capsys):
    assert main(["convert", "pathology"]) == 0
    listing = capsys.readouterr().out
    assert "crc100k" in listing and "captions" in listing
    assert "CRC-100K" in listing and "Quilt-1M" in listing  # each with its description
