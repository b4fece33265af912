"""`clipzoo demo medical --small` end to end (2D stage, then slice pooling with the 2D tower locked, attention figures
in the run), then the registered pyfunc (the served predict path) answering a DICOM series sent as a zip and a NIfTI
sent as base64, with a bad file in the same request."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import zipfile
from pathlib import Path

import pandas as pd
import torch
from clipzoo.cli.main import main
from clipzoo.core.checkpoint import load_checkpoint_file
from clipzoo.domains.medical import wheel_ct_series
from clipzoo.registry.catalog import resolve
from clipzoo.registry.loading import load_pyfunc
from clipzoo.registry.tracking import configure
from nibabel.testing import data_path

from tests.domains.medical.test_medical_benchmarks import write_chexpert, write_rsna
from tests.helpers.benchmarks import evaluated_on_benchmark
from tests.helpers.metrics import printed_metric


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_small_demo_trains_registers_and_serves_series_zip_and_nifti(capsys, tmp_path):
    assert main(["demo", "medical", "--small"]) == 0
    out = capsys.readouterr().out
    assert "training 2d (4 epoch(s)), 3d (3 epoch(s)) on CPU" in out
    assert "held-out zero-shot" in out and "findings_mean_auroc" in out and "image_to_text_R@1" in out
    # present/absent per finding: chance AUROC 0.5; over 12 held-out volumes the small demo's mean reaches 0.59
    assert printed_metric(out, "mean") >= 0.5 + 0.05
    assert "95% bootstrap CI" in out and "report_to_volume_R@1" in out
    assert "registered clipzoo-medical version" in out
    version = re.search(r"registered clipzoo-medical version (\d+)", out).group(1)
    assert f"clipzoo predict clipzoo-medical/{version} {wheel_ct_series()} --task attention" in out
    assert len(out.split("  -> ")[1].splitlines()[0].split(", ")) == 3
    weights = json.loads(out.split("slice attention: ")[1].splitlines()[0])
    assert len(weights) == 5 and abs(sum(weights) - 1) < 1e-3  # CT5N has five slices
    # the standard benchmarks, on tiny replicas of their published layouts
    model = f"clipzoo-medical/{version}"
    evaluated_on_benchmark(model, "chexpert-5x200", write_chexpert(tmp_path / "chexpert"))
    evaluated_on_benchmark(model, "rsna-pneumonia", write_rsna(tmp_path / "rsna")[0])
    assert resolve("clipzoo-medical@champion").version is not None

    # the 3D stage kept the 2D trunk of the 2D stage and trained the pooling; its run holds the attention figures
    work = max(Path(os.environ["CLIPZOO_HOME"], "checkpoints").glob("medical-*"), key=lambda p: p.stat().st_mtime)
    stage2d = load_checkpoint_file(work / "2d" / "last.pt")["model"]
    stage3d = load_checkpoint_file(work / "3d" / "last.pt")["model"]
    trunk = [k for k in stage2d if k.startswith("visual.trunk.")]
    assert trunk and all(torch.equal(stage2d[k], stage3d[k]) for k in trunk)
    assert not torch.equal(stage2d["visual.pool.query"], stage3d["visual.pool.query"])
    client = configure()
    run_id = client.get_model_version_by_alias("clipzoo-medical", "champion").run_id
    plots = [a.path for a in client.list_artifacts(run_id, "plots")]
    assert any(p.startswith("plots/slice_attention_") for p in plots)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for f in sorted(wheel_ct_series().iterdir()):
            archive.write(f, f"CT5N/{f.name}")
    nifti = (data_path + "/anatomical.nii") if isinstance(data_path, str) else str(data_path / "anatomical.nii")
    with open(nifti, "rb") as fh:
        nifti_bytes = fh.read()
    request = pd.DataFrame(
        {
            "data": [_b64(buffer.getvalue()), _b64(nifti_bytes), _b64(b"not a volume")],
            "name": ["ct5n.zip", "anatomical.nii", "broken.nii.gz"],
        }
    )
    model = load_pyfunc("clipzoo-medical@champion")
    answer = model.predict(request, params={"labels": ["pleural effusion", "lung nodule", "normal chest"]})
    rows = answer.to_dict("records")
    assert [r["error"] is None for r in rows] == [True, True, False]
    assert "broken.nii.gz: corrupt NIfTI file" in rows[2]["error"]
    assert all(len(r["labels"]) == 3 and abs(sum(r["scores"]) - 1) < 1e-3 for r in rows[:2])
