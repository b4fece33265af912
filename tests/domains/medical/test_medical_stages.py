"""`clipzoo train medical` runs RadCLIP's two stages: the 2D stage, then slice pooling with the 2D trunk locked."""

from __future__ import annotations

import re

import pytest
import torch
from clipzoo.cli.main import main
from clipzoo.core.checkpoint import load_checkpoint_file
from clipzoo.core.domain import get_domain
from clipzoo.pipeline.data import demo_data


@pytest.mark.slow
def test_train_medical_trains_the_2d_stage_then_pooling_on_a_locked_trunk(tmp_path, capsys):
    data = demo_data(get_domain("medical"), small=True)
    out_dir = tmp_path / "run"
    assert main(["train", "medical", "--data", str(data.train), "--input", f"train2d={data.extra['train2d']}",
                 "--heldout", str(data.heldout), "--epochs", "1", "--batch-size", "8", "--no-register",
                 "--output-dir", str(out_dir)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert re.search(r"stage 2d: \S+train2d\.csv \(\d+ samples", out), out
    assert re.search(r"stage 3d: \S+train\.csv \(\d+ samples.*image trunk locked", out), out
    assert "finding        AUROC   95% bootstrap CI" in out and re.search(r"^  mean +[0-9.]+$", out, flags=re.M)
    stage2d = load_checkpoint_file(out_dir / "2d" / "last.pt")["model"]
    stage3d = load_checkpoint_file(out_dir / "3d" / "last.pt")["model"]
    trunk = [k for k in stage2d if k.startswith("visual.trunk.")]
    assert trunk and all(torch.equal(stage2d[k], stage3d[k]) for k in trunk)
    assert not torch.equal(stage2d["visual.pool.query"], stage3d["visual.pool.query"])
