"""Fashion200k (labels/<category>_<split>_detect_all.txt + women/ images) on a tiny replica of its published layout,
FashionIQ through the benchmark's converter options, and the benchmark entries."""

from __future__ import annotations

import pandas as pd
import pytest
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.domains.fashion.benchmark_layouts import fashion200k
from PIL import Image

from tests.domains.fashion.test_fashion_convert import _fashioniq
from tests.helpers.benchmarks import checked_benchmarks

LINES = {
    "dress": [("women/dresses/casual_and_day_dresses/51727804/51727804_0.jpeg", 0.786, "black lace dress"),
              ("women/dresses/casual_and_day_dresses/51727804/51727804_1.jpeg", 0.612, "black lace dress"),
              ("women/dresses/cocktail_dresses/60104562/60104562_0.jpeg", -0.1, "red  off-the-shoulder dress ")],
    "skirt": [("women/skirts/mini_skirts/52311540/52311540_2.jpeg", 1.2, "pleated denim mini skirt")],
}  # fmt: skip


@pytest.fixture()
def f200k(tmp_path):
    return write_f200k(tmp_path)


def write_f200k(tmp_path):
    root = tmp_path / "fashion200k"
    (root / "labels").mkdir(parents=True)
    for category in ("dress", "jacket", "pants", "skirt", "top"):
        for split in ("train", "test"):
            lines = LINES.get(category, []) if split == "test" else [("women/x/y/1/1_0.jpeg", 0.5, "unused")]
            text = "".join(f"{p}\t{s}\t{d}\n" for p, s, d in lines)
            (root / "labels" / f"{category}_{split}_detect_all.txt").write_text(text, encoding="utf-8")
    for i, (path, _, _) in enumerate(line for lines in LINES.values() for line in lines):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (36, 48), (50 * i, 120, 200)).save(root / path, format="JPEG")
    return root


def test_fashion200k_test_split_rows(f200k, tmp_path):
    out = tmp_path / "out" / "f200k.csv"
    assert "4 images, 3 products" in fashion200k(str(f200k), str(out))
    manifest = pd.read_csv(out)
    assert list(manifest.columns) == ["path", "product_id", "caption", "category", "score"]
    assert manifest["caption"].tolist() == ["black lace dress", "black lace dress", "red off-the-shoulder dress",
                                            "pleated denim mini skirt"]  # fmt: skip
    assert manifest["product_id"].astype(str).tolist() == ["51727804", "51727804", "60104562", "52311540"]
    assert manifest["category"].tolist() == ["dress", "dress", "dress", "skirt"]
    assert manifest["score"].tolist() == pytest.approx([0.786, 0.612, -0.1, 1.2])
    assert Image.open(out.parent / manifest["path"][3]).size == (36, 48)
    fashion200k(str(f200k), str(out), categories=["skirt"])
    assert pd.read_csv(out)["category"].tolist() == ["skirt"]


def test_fashion200k_bad_layouts_name_the_file(f200k, tmp_path):
    out = tmp_path / "m.csv"
    with pytest.raises(InputError, match="1 image") as err:  # train lists an image that is not there
        fashion200k(str(f200k), str(out), split="train", categories=["dress"])
    assert "fashion200k" in str(err.value)
    (f200k / "labels" / "top_test_detect_all.txt").write_text("women/tops/1/1_0.jpeg 0.5 no tabs\n")
    with pytest.raises(InputError, match="line 1: expected") as err:
        fashion200k(str(f200k), str(out))
    assert "top_test_detect_all.txt" in str(err.value)
    with pytest.raises(InputError, match="not a Fashion200k folder"):
        fashion200k(str(tmp_path), str(out))
    with pytest.raises(InputError, match="unknown Fashion200k categories"):
        fashion200k(str(f200k), str(out), categories=["shoes"])


def test_fashioniq_benchmark_options_convert_the_validation_split(tmp_path):
    bench = checked_benchmarks("fashion")["fashioniq"]
    _fashioniq(tmp_path / "fiq")
    summary = get_domain("fashion").converters()[bench.layout].run(str(tmp_path / "fiq"), str(tmp_path / "out"),
                                                                  **bench.options)  # fmt: skip
    assert "5 products" in summary and (tmp_path / "out" / "val.triplets.csv").is_file()


def test_fashion_benchmarks_entries():
    benchmarks = checked_benchmarks("fashion")
    fiq = benchmarks["fashioniq"]
    assert fiq.task == "composed" and fiq.metric == "mean_R@10" and fiq.options == {"split": "val"}
    f200k = benchmarks["fashion200k"]
    assert f200k.task == "retrieval" and f200k.text_column == "caption" and f200k.metric == "R@10"
    assert f200k.options == {"split": "test"}
