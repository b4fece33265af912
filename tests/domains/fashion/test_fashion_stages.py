"""`clipzoo train fashion` runs the demo's recipe: the contrastive stage, then the Combiner on triplets."""

from __future__ import annotations

import re

import pytest
from clipzoo.cli.main import main
from clipzoo.core.domain import get_domain
from clipzoo.pipeline.data import demo_data


def _metric(out: str, name: str) -> float:
    found = re.search(rf"^  {re.escape(name)} +([0-9.]+)$", out, flags=re.M)
    assert found, f"{name} not printed:\n{out}"
    return float(found.group(1))


@pytest.mark.slow
def test_train_fashion_on_the_demo_files_equals_the_demo(capsys, tmp_path):
    assert main(["demo", "fashion", "--small", "--output-dir", str(tmp_path / "demo")]) == 0
    demo_out = capsys.readouterr().out
    data = demo_data(get_domain("fashion"), small=True)
    # the demo's small settings, spelled out; the triplets are found beside the training manifest
    assert main(["train", "fashion", "--data", str(data.train), "--heldout", str(data.heldout),
                 "--epochs", "4", "--batch-size", "16", "--warmup-steps", "2", "--lr", "2e-3",
                 "--stage", "combiner.epochs=5", "--output-dir", str(tmp_path / "train")]) == 0  # fmt: skip
    train_out = capsys.readouterr().out
    assert re.search(r"stage combiner: \d+ triplets from \S+train\.triplets\.csv, 5 epochs", train_out), train_out
    for name in ("composed_combiner_R@10", "composed_combiner_R@50", "composed_sum_R@10", "text_to_product_MRR"):
        assert _metric(train_out, name) == _metric(demo_out, name), name
    registered = re.findall(r"registered clipzoo-fashion version (\d+)", demo_out + train_out)
    assert len(set(registered)) == 2


def test_fashion_without_triplets_skips_the_combiner_and_says_so(fashion_files, tmp_path, capsys):
    from clipzoo.core.spec import ModelSpec

    from tests.conftest import TINY_OPEN_CLIP_CFG

    spec = ModelSpec(name="tiny-fashion", domain="fashion", model_cfg=TINY_OPEN_CLIP_CFG, image_size=32,
                     vision_tower="fashion").save(tmp_path / "spec.json")  # fmt: skip
    alone = tmp_path / "alone.csv"
    alone.write_bytes(fashion_files["train"].read_bytes())  # no alone.triplets.csv beside it
    images = fashion_files["train"].parent / "images"
    (tmp_path / "images").symlink_to(images)
    assert main(["train", "fashion", "--data", str(alone), "--config", str(spec), "--epochs", "1",
                 "--batch-size", "12", "--no-register", "--output-dir", str(tmp_path / "out")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "stage combiner: skipped: no 'train_triplets' input given" in out
