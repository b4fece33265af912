"""`clipzoo demo fashion --small` end to end: both stages, registration, and a search of the demo's catalogue folder."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from clipzoo.cli.main import main
from clipzoo.domains.fashion.combiner import get_combiner
from clipzoo.registry.catalog import resolve
from clipzoo.registry.loading import load_clip
from clipzoo.registry.tracking import clipzoo_home

from tests.domains.fashion.test_fashion_benchmarks import _fashioniq, write_f200k
from tests.helpers.benchmarks import evaluated_on_benchmark
from tests.helpers.metrics import printed_metric


@pytest.fixture(scope="module")
def demo_output():
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["demo", "fashion", "--small"])
    return code, buf.getvalue()


def test_demo_trains_both_stages_registers_and_searches(demo_output):
    code, out = demo_output
    assert code == 0
    for metric in ("category_top1", "colour_top1", "pattern_top1", "text_to_product_R@1", "text_to_product_R@10",
                   "text_to_product_MRR", "composed_sum_R@10", "composed_sum_R@50", "composed_combiner_R@10",
                   "composed_combiner_R@50"):  # fmt: skip
        assert f"  {metric} " in out, metric
    # 8 colours: chance 1/8 (always naming the commonest colour, red, scores 7/30); the small demo reaches 0.43
    assert printed_metric(out, "colour_top1") >= 1 / 8 + 0.15
    assert "registered clipzoo-fashion version" in out
    assert 'text "blue striped dress":' in out and "composed: FP" in out and "<- target" in out
    assert resolve("clipzoo-fashion@champion").version is not None
    combiner = get_combiner(load_clip("clipzoo-fashion@champion").model)
    assert combiner is not None and combiner.is_trained, "the stage-2 Combiner travels with the registered model"


def test_demo_model_on_the_fashion_benchmarks(demo_output, tmp_path):
    assert demo_output[0] == 0
    evaluated_on_benchmark("clipzoo-fashion@champion", "fashion200k", write_f200k(tmp_path / "f200k"))
    _fashioniq(tmp_path / "fiq")
    out = evaluated_on_benchmark("clipzoo-fashion@champion", "fashioniq", tmp_path / "fiq")
    assert "R@10/dress" in out and "mean_R@10_50" in out


def test_demo_catalogue_is_searched_with_the_registered_model(demo_output, tmp_path, capsys):
    code, out = demo_output
    assert code == 0
    version = re.search(r"registered clipzoo-fashion version (\d+)", out).group(1)
    folder = clipzoo_home() / "catalogues" / "demo-fashion-small"
    header = f"catalogue search with clipzoo-fashion/{version} over 30 held-out products, catalogue folder {folder}:"
    assert header in out
    stamp = json.loads((folder / "catalogue.json").read_text())["model"]
    assert stamp["ref"] == f"clipzoo-fashion/{version}" and stamp["embed_dim"] == 256
    demo = clipzoo_home() / "demo-data" / "fashion-small"
    image = demo / pd.read_csv(demo / "heldout.csv")["path"][0]
    assert main(["predict", f"clipzoo-fashion/{version}", str(image), "--labels", "dress", "bag", "shoe",
                 "--top-k", "2", "--json"]) == 0  # fmt: skip
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(row["labels"]) == 2 and row["error"] is None, "classification still answers"
    assert main(["predict", f"clipzoo-fashion/{version}", str(image), "--text", "in blue", "--task", "search",
                 "--catalogue", str(folder), "--top-k", "3", "--json"]) == 0  # fmt: skip
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["query"] == "image+text (Combiner)" and len(row["ids"]) == 3 and row["error"] is None

    empty = tmp_path / "empty.csv"
    empty.write_text("path,product_id\n")
    assert main(["catalogue", "build", "clipzoo-fashion@champion", str(empty), str(tmp_path / "x")]) == 2
    assert "manifest has no rows" in capsys.readouterr().err
