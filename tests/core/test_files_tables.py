"""CSV tables of published layouts: read with errors naming the file, written atomically."""

from __future__ import annotations

import pandas as pd
import pytest
from clipzoo.core.errors import InputError
from clipzoo.core.files import read_table, write_csv


def test_write_csv_then_read_table_round_trips(tmp_path):
    out = write_csv(pd.DataFrame({"path": ["a.jpg"], "label": [1]}), tmp_path / "new" / "m.csv")
    assert out.is_file() and not list(out.parent.glob(".*.tmp"))
    assert read_table(out, "manifest").to_dict("records") == [{"path": "a.jpg", "label": 1}]
    assert list(read_table(out, "manifest", nrows=0).columns) == ["path", "label"]


def test_read_table_names_the_file(tmp_path):
    with pytest.raises(InputError, match="labels CSV not found") as err:
        read_table(tmp_path / "labels.csv", "labels CSV")
    assert "labels.csv" in str(err.value)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b'a,b\n"unterminated\n')
    with pytest.raises(InputError, match="cannot parse the labels CSV") as err:
        read_table(bad, "labels CSV")
    assert "bad.csv" in str(err.value)
