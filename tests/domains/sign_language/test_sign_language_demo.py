"""Demo data written by pose-format, and `clipzoo demo sign_language --small` end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from clipzoo.cli.main import main
from clipzoo.core.domain import get_domain
from clipzoo.domains.sign_language.layouts import CANONICAL, RIGHT_HAND
from clipzoo.registry.catalog import resolve
from pose_format import Pose

from tests.domains.sign_language.test_sign_language_benchmarks import write_release
from tests.helpers.benchmarks import evaluated_on_benchmark
from tests.helpers.metrics import printed_metric


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    return get_domain("sign_language").write_demo_data(tmp_path_factory.mktemp("sl-demo"), seed=0, small=True)


def test_demo_poses_are_real_pose_files_with_distinct_signs(small_demo):
    train, heldout = pd.read_csv(small_demo.train), pd.read_csv(small_demo.heldout)
    assert len(train) == 48 and len(heldout) == 36
    assert set(train.signer).isdisjoint(heldout.signer)  # held-out signers are unseen
    assert train.caption.str.match(r"^<en> <ase> \w").all()
    pose = Pose.read((small_demo.train.parent / train.path[0]).read_bytes())
    assert [c.name for c in pose.header.components] == [
        "POSE_LANDMARKS",
        "FACE_LANDMARKS",
        "LEFT_HAND_LANDMARKS",
        "RIGHT_HAND_LANDMARKS",
    ]
    assert pose.body.fps in (25.0, 30.0) and pose.body.data.shape[1:] == (1, 203, 3)

    domain = get_domain("sign_language")
    wrist = CANONICAL.index[(RIGHT_HAND, "WRIST")]
    paths = {g: small_demo.train.parent / train.path[train.gloss == g].iloc[0] for g in ("PLEASE", "HOUSE", "EAT")}
    tracks = {g: domain.read(p).data[:, wrist, :2] for g, p in paths.items()}
    # the dominant wrist travels to different places for different signs (chest, high, mouth)
    heights = {g: float(np.median(t[len(t) // 3 : 2 * len(t) // 3, 1])) for g, t in tracks.items()}
    assert heights["EAT"] < heights["HOUSE"] < heights["PLEASE"]


def test_zero_shot_prompts_use_wording_absent_from_captions(small_demo):
    captions = set(pd.read_csv(small_demo.train).caption)
    pack = get_domain("sign_language").prompt_packs()["sign"]
    prompts = {t.format(s) for t in pack["templates"] for syn in pack["classes"].values() for s in syn}
    assert not prompts & captions


def test_demo_small_trains_registers_and_embeds_a_pose(capsys, tmp_path):
    assert main(["demo", "sign_language", "--small"]) == 0
    out = capsys.readouterr().out
    for key in ("pose_to_text_R@1", "text_to_pose_P@5", "fewshot_5shot_top1", "sign_top1"):
        assert key in out
    # 6 signs, 6 held-out clips of each: chance 1/6; the small demo reaches 0.33
    assert printed_metric(out, "sign_top1") >= 1 / 6 + 0.1
    assert "registered clipzoo-sign_language version" in out
    evaluated_on_benchmark("clipzoo-sign_language@champion", "asl-citizen", write_release(tmp_path))
    prediction = out.split("  -> ")[1].splitlines()[0]
    assert len(prediction.split(", ")) == 3
    assert resolve("clipzoo-sign_language@champion").version is not None
