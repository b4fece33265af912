"""A product catalogue built from `clipzoo embed` Parquet embeddings (no re-encoding) searches as one that encoded."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.cli.test_cli import clipzoo_inprocess


def test_catalogue_from_parquet_embeddings_equals_the_encoded_one(registered_fashion, fashion_files, tmp_path, capsys):
    embeddings = tmp_path / "emb"
    heldout = str(fashion_files["heldout"])
    proc = clipzoo_inprocess(capsys, "embed", registered_fashion, "--data", heldout, "--out", str(embeddings),
                             "--key-column", "product_id", "--rows-per-file", "6")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    from_parquet, encoded = tmp_path / "from-parquet", tmp_path / "encoded"
    proc = clipzoo_inprocess(capsys, "catalogue", "build", registered_fashion, heldout, str(from_parquet),
                             "--option", f"embeddings={embeddings}")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"embeddings read from {embeddings}" in proc.stdout
    assert clipzoo_inprocess(capsys, "catalogue", "build", registered_fashion, heldout, str(encoded)).returncode == 0

    def search(catalogue):
        proc = clipzoo_inprocess(capsys, "predict", registered_fashion, "--text", "a red dress", "--task", "search",
                                 "--catalogue", str(catalogue), "--json", "--top-k", "5")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.splitlines()[0])

    a, b = search(from_parquet), search(encoded)
    assert a["labels"] == b["labels"] and a["scores"] == pytest.approx(b["scores"], abs=1e-5)

    partial = tmp_path / "partial"
    partial.mkdir()
    first = sorted(embeddings.glob("*.parquet"))[0]
    (partial / first.name).write_bytes(first.read_bytes())
    proc = clipzoo_inprocess(capsys, "catalogue", "build", registered_fashion, heldout, str(tmp_path / "x"),
                             "--option", f"embeddings={partial}")  # fmt: skip
    missing = len(pd.read_csv(heldout)) - 6
    assert proc.returncode == 2 and f"{missing} product(s) have no embedding" in proc.stderr
