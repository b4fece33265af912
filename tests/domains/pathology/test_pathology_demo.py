"""`clipzoo demo pathology --small` end to end: demo data, training, tile and slide zero-shot, registration,
a tile prediction by the champion, then slide-level zero-shot with its heatmap."""

from __future__ import annotations

import re
from pathlib import Path

from clipzoo.cli.main import main
from clipzoo.registry.catalog import resolve

from tests.domains.pathology.test_pathology_benchmarks import write_crc, write_nsclc
from tests.helpers.benchmarks import evaluated_on_benchmark
from tests.helpers.metrics import printed_metric


def test_demo_trains_registers_and_classifies_a_slide(capsys, tmp_path):
    assert main(["demo", "pathology", "--small"]) == 0
    out = capsys.readouterr().out
    assert "held-out zero-shot" in out
    for metric in ("tissue_balanced_accuracy", "slide_top1_accuracy", "slide_top10_accuracy", "text_to_image_R@1"):
        assert metric in out, metric
    # 6 tissues, 6 held-out tiles of each: chance 1/6; the small demo reaches 0.47
    assert printed_metric(out, "tissue_balanced_accuracy") >= 1 / 6 + 0.15
    assert "registered clipzoo-pathology version" in out
    assert re.search(r"clipzoo predict clipzoo-pathology/\d+ \S+ --task slide", out)
    assert resolve("clipzoo-pathology@champion").version is not None
    used = re.search(r"tiles used (\d+), skipped (\d+)", out)
    assert used and int(used.group(1)) > 0
    heatmap = re.search(r"heatmap -> (\S+)", out)
    assert heatmap and Path(heatmap.group(1)).is_file()
    evaluated_on_benchmark("clipzoo-pathology@champion", "crc100k-9", write_crc(tmp_path / "crc"))
    evaluated_on_benchmark("clipzoo-pathology@champion", "tcga-nsclc-slides", write_nsclc(tmp_path / "nsclc"))
