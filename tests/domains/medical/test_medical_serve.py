"""A real `clipzoo serve` (mlflow models serve) process on 127.0.0.1 with a tiny registered medical model: a DICOM
series sent as a zip and a NIfTI sent as base64, with slice attention; a bad file is named, the others answered."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import pytest
import requests
from clipzoo.domains.medical import wheel_ct_series
from nibabel.testing import data_path

from tests.helpers.medical import publish_tiny_medical
from tests.helpers.serving import served


@pytest.fixture(scope="module")
def version() -> str:
    return publish_tiny_medical("tiny-serve")


@pytest.fixture(scope="module")
def server(version):
    with served(f"clipzoo-medical/{version}", "serve-medical.log") as url:
        yield url


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _series_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for f in sorted(wheel_ct_series().iterdir()):
            archive.write(f, f"CT5N/{f.name}")
    return buffer.getvalue()


def _nifti() -> bytes:
    return Path(str(data_path), "anatomical.nii").read_bytes()


def test_series_zip_and_nifti_base64_with_attention_and_a_bad_file(server):
    payload = {
        "inputs": {
            "data": [_b64(_series_zip()), _b64(b"not a volume"), _b64(_nifti())],
            "name": ["ct5n.zip", "broken.nii.gz", "anatomical.nii"],
        },
        "params": {"labels": ["lung nodule", "pleural effusion", "normal chest"], "top_k": 2, "task": "attention"},
    }
    reply = requests.post(f"{server}/invocations", json=payload, timeout=120)
    assert reply.status_code == 200, reply.text
    rows = reply.json()["predictions"]
    assert [r["input"] for r in rows] == ["ct5n.zip", "broken.nii.gz", "anatomical.nii"]
    assert rows[0]["error"] is None and rows[2]["error"] is None
    assert "broken.nii.gz: corrupt NIfTI file" in rows[1]["error"]
    for row in (rows[0], rows[2]):
        assert len(row["labels"]) == 2 and set(row["labels"]) <= {"lung nodule", "pleural effusion", "normal chest"}
        assert abs(sum(row["slice_attention"]) - 1) < 1e-3
    assert len(rows[0]["slice_attention"]) == 5  # CT5N: five slices, all kept (max_slices 10)


def test_only_bad_files_get_400_and_the_server_keeps_serving(server):
    bad = {"inputs": {"data": [_b64(b"PK\x03\x04broken")], "name": ["series.zip"]}, "params": {"labels": ["a"]}}
    reply = requests.post(f"{server}/invocations", json=bad, timeout=60)
    assert reply.status_code == 400 and "series.zip" in reply.json()["message"]
    ok = {"inputs": {"data": [_b64(_nifti())], "name": ["anatomical.nii"]}, "params": {"labels": ["a", "b"]}}
    assert requests.post(f"{server}/invocations", json=ok, timeout=60).status_code == 200


def test_a_served_series_with_a_missing_slice_carries_its_spacing_warning(server):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for f in sorted(wheel_ct_series().iterdir()):
            if f.name != "2693":  # the middle slice: gaps 2.5, 5.0, 2.5 mm
                archive.write(f, f"CT5N/{f.name}")
    payload = {
        "inputs": {"data": [_b64(buffer.getvalue()), _b64(_series_zip())], "name": ["gap.zip", "ct5n.zip"]},
        "params": {"labels": ["nodule", "normal"]},
    }
    reply = requests.post(f"{server}/invocations", json=payload, timeout=120)
    assert reply.status_code == 200, reply.text
    gap, regular = reply.json()["predictions"]
    assert gap["error"] is None and regular["warnings"] == []
    assert len(gap["warnings"]) == 1 and "irregular slice spacing" in gap["warnings"][0]
    assert "5.000" in gap["warnings"][0]
