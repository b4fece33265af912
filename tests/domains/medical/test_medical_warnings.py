"""Per-input warnings as data: a DICOM series with a missing slice carries its irregular-spacing warning (the measured
gaps) in its `--json` row, in plain words on the CLI's stderr, and the same on the read from the scan cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from clipzoo.cli.main import main
from clipzoo.domains.medical import wheel_ct_series

from tests.helpers.medical import publish_tiny_medical


@pytest.fixture(scope="module")
def model_ref() -> str:
    return f"clipzoo-medical/{publish_tiny_medical('tiny-warnings')}"


def _gap_series(folder: Path) -> Path:
    """CT5N (five slices 2.5 mm apart) without its middle slice: gaps 2.5, 5.0, 2.5 mm."""
    shutil.copytree(wheel_ct_series(), folder)
    (folder / "2693").unlink()
    return folder


def test_irregular_spacing_warning_in_json_rows_first_and_cached_read(model_ref, tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    monkeypatch.setenv("CLIPZOO_MEDICAL_CACHE", str(cache))
    series = _gap_series(tmp_path / "gap")
    args = ["predict", model_ref, str(series), str(wheel_ct_series()), "--labels", "nodule", "normal", "--json"]
    answers = []
    for _ in range(2):  # the first read fills the cache, the second is answered from it
        assert main(args) == 0
        answers.append([json.loads(line) for line in capsys.readouterr().out.splitlines()])
        assert len(list(cache.rglob("*.pt"))) == 2
    first, cached = answers
    assert [r["warnings"] for r in first] == [r["warnings"] for r in cached]
    gap_row, regular_row = first
    assert regular_row["warnings"] == []
    (warning,) = gap_row["warnings"]
    assert "irregular slice spacing" in warning and "2.500" in warning and "5.000" in warning

    assert main(args[:-1]) == 0  # without --json: the warning in plain words on stderr, no Python warning
    err = capsys.readouterr().err
    assert f"{series}: warning: irregular slice spacing" in err
    assert "UserWarning" not in err and "monai" not in err
