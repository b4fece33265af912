"""The users'-data converter on a tiny ASL Citizen-like replica: a folder of .pose files and a split CSV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from clipzoo.cli.main import main
from clipzoo.core.data import Manifest
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.domains.sign_language.convert import convert, gloss_text
from clipzoo.domains.sign_language.demo_data import write_pose
from clipzoo.domains.sign_language.synth import SIGNS, Signer, render_sign


@pytest.fixture()
def replica(tmp_path):
    """ASL Citizen's shape: splits/test.csv (Participant ID, Video file, Gloss, ASL-LEX Code) + poses/<stem>.pose."""
    rng = np.random.default_rng(0)
    (tmp_path / "poses").mkdir()
    (tmp_path / "splits").mkdir()
    rows = []
    for i, (sign, gloss) in enumerate([(SIGNS[0], "HELLO"), (SIGNS[2], "HOUSE2"), (SIGNS[7], "THANK_YOU")]):
        video = f"{1000 + i}-{gloss}.mp4"
        pixels, conf = render_sign(sign, Signer.sample(rng), rng, 30.0)
        write_pose(tmp_path / "poses" / f"{1000 + i}-{gloss}.pose", pixels, conf, 30.0)
        rows.append({"Participant ID": f"P{i}", "Video file": video, "Gloss": gloss, "ASL-LEX Code": f"x_{i}"})
    pd.DataFrame(rows).to_csv(tmp_path / "splits" / "test.csv", index=False)
    return tmp_path


def test_converter_writes_a_manifest_the_domain_reads(replica):
    out, skipped = convert(replica / "splits" / "test.csv", replica / "poses", replica / "manifests" / "test.csv")
    assert skipped == 0
    manifest = Manifest.read(out)
    frame = manifest.frame
    assert frame.caption.tolist() == ["<en> <ase> hello", "<en> <ase> house", "<en> <ase> thank you"]
    assert frame.gloss.tolist() == ["HELLO", "HOUSE2", "THANK_YOU"] and frame.signer.tolist() == ["P0", "P1", "P2"]
    domain = get_domain("sign_language")
    assert all(domain.read(manifest.file(i)).fps == 30.0 for i in range(len(manifest)))


def test_missing_pose_is_named_or_skipped(replica, capsys):
    (replica / "poses" / "1001-HOUSE2.pose").unlink()
    with pytest.raises(InputError, match=r"1001-HOUSE2\.pose: row 3 \(1001-HOUSE2\.mp4\): pose file not found"):
        convert(replica / "splits" / "test.csv", replica / "poses", replica / "m.csv")
    args = ["convert", "sign_language", "asl-citizen", str(replica / "splits" / "test.csv"), str(replica / "m.csv"),
            "--option", f"poses={replica / 'poses'}"]  # fmt: skip
    assert main([*args, "--option", "skip_missing=true"]) == 0 and "1 row(s) skipped" in capsys.readouterr().out
    assert len(pd.read_csv(replica / "m.csv")) == 2
    assert main([*args, "--option", "gloss_column=Sign"]) == 2
    assert "lacks column(s) ['Sign']" in capsys.readouterr().err


def test_gloss_text():
    assert gloss_text("HOUSE2") == "house" and gloss_text("thank-you") == "thank you"


def test_convert_names_a_missing_required_option_and_a_non_boolean_flag(replica, capsys):
    args = ["convert", "sign_language", "asl-citizen", str(replica / "splits" / "test.csv"), str(replica / "m.csv")]
    assert main(args) == 2
    assert "layout 'asl-citizen' needs option(s) ['poses']: give --option poses=..." in capsys.readouterr().err
    assert main([*args, "--option", f"poses={replica / 'poses'}", "--option", "skip_missing=False"]) == 2
    assert "option skip_missing must be true or false, got 'False'" in capsys.readouterr().err
    assert not (replica / "m.csv").exists()
