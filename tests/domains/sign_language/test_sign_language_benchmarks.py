"""ASL Citizen's release layout (splits/<split>.csv with its four columns + poses of its videos) through the
benchmark's converter, and the benchmark entry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.domains.sign_language.benchmark_layouts import asl_citizen_release
from clipzoo.domains.sign_language.demo_data import write_pose
from clipzoo.domains.sign_language.synth import SIGNS, Signer, render_sign

from tests.helpers.benchmarks import checked_benchmarks


@pytest.fixture()
def release(tmp_path):
    return write_release(tmp_path)


def write_release(tmp_path):
    """ASL_Citizen/splits/test.csv (Participant ID, Video file, Gloss, ASL-LEX Code) + poses/<video stem>.pose."""
    root = tmp_path / "ASL_Citizen"
    (root / "splits").mkdir(parents=True)
    (root / "poses").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for i, (sign, gloss, code) in enumerate([(SIGNS[0], "HELLO", "hello"), (SIGNS[2], "HOUSE2", "house_2")]):
        video = f"{5812 + i}4378139-{gloss}.mp4"
        pixels, conf = render_sign(sign, Signer.sample(rng), rng, 30.0)
        write_pose(root / "poses" / video.replace(".mp4", ".pose"), pixels, conf, 30.0)
        rows.append({"Participant ID": f"P{i + 1}", "Video file": video, "Gloss": gloss, "ASL-LEX Code": code})
    pd.DataFrame(rows).to_csv(root / "splits" / "test.csv", index=False)
    return root


def test_asl_citizen_release_test_split(release, tmp_path):
    bench = checked_benchmarks("sign_language")["asl-citizen"]
    out = tmp_path / "out" / "test.csv"
    get_domain("sign_language").converters()[bench.layout].run(str(release), str(out), **bench.options)
    manifest = pd.read_csv(out)
    assert manifest["gloss"].tolist() == ["HELLO", "HOUSE2"] and manifest["text"].tolist() == ["hello", "house"]
    assert manifest["signer"].tolist() == ["P1", "P2"]
    assert get_domain("sign_language").read(out.parent / manifest["path"][1]).fps == 30.0


def test_asl_citizen_release_names_bad_layouts(release, tmp_path):
    with pytest.raises(InputError, match=r"expected splits/val\.csv"):
        asl_citizen_release(str(release), str(tmp_path / "m.csv"), split="val")
    with pytest.raises(InputError, match="option split"):
        asl_citizen_release(str(release), str(tmp_path / "m.csv"), split="dev")
    frame = pd.read_csv(release / "splits" / "test.csv").drop(columns=["ASL-LEX Code"])
    frame.to_csv(release / "splits" / "test.csv", index=False)
    with pytest.raises(InputError, match=r"lacks column\(s\) \['ASL-LEX Code'\]") as err:
        asl_citizen_release(str(release), str(tmp_path / "m.csv"))
    assert "test.csv" in str(err.value)


def test_asl_citizen_entry():
    bench = checked_benchmarks("sign_language")["asl-citizen"]
    assert bench.task == "classification" and bench.metric == "top1" and bench.label_column == "gloss"
    assert bench.classes == {}  # the split's glosses, from the manifest
    assert bench.templates[0] == "<en> <ase> the sign for {}."
    assert list(bench.templates) == get_domain("sign_language").prompt_packs()["sign"]["templates"]
    assert bench.options == {"split": "test", "poses": "poses"}
