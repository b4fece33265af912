"""Scores a clinician can act on, as a user meets them: a version registered with held-out data (train, adapt)
records its temperature and its findings' operating points, shows them in its card and its MLflow run, and every
classification row it answers (CLI, in process, served) says whether its scores are calibrated and, per finding,
whether the finding is positive at the version's operating point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import torch
from clipzoo.core.data import Manifest
from clipzoo.core.domain import get_domain
from clipzoo.core.evaluate import encode_manifest
from clipzoo.core.model import build_model
from clipzoo.core.predict import InputItem, Predictor
from clipzoo.core.zeroshot import PromptPack, class_probabilities, classifier_weights
from clipzoo.pipeline.data import demo_data
from clipzoo.pipeline.train import train, train_config
from clipzoo.registry.catalog import resolve
from clipzoo.registry.loading import load_clip
from clipzoo.registry.tracking import configure

from tests.cli.test_cli import clipzoo_inprocess
from tests.cli.test_import_cli import card_of
from tests.helpers.medical import TINY_VIT
from tests.helpers.serving import served

FINDINGS = ("nodule", "effusion", "cardiomegaly")


def _files(manifest: Path) -> list[str]:
    return [str(Path(manifest).parent / p) for p in pd.read_csv(manifest)["path"]]


def _predict_json(capsys, *args: str) -> list[dict]:
    proc = clipzoo_inprocess(capsys, "predict", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _run_of(ref: str):
    found = resolve(ref)
    client = configure()
    run_id = client.get_model_version(found.name, found.version).run_id
    return client.get_run(run_id), [a.path for a in client.list_artifacts(run_id, "plots")]


@pytest.fixture(scope="module")
def demo_line(image_demo):
    """The image domain's small demo model (its default spec and small demo settings) on the line ``trust``."""
    domain = get_domain("image")
    config = train_config(domain.demo_train_defaults(small=True), {})
    inputs = {"train": image_demo.train}
    result = train(domain, domain.default_spec(), inputs, heldout=image_demo.heldout, config=config, line="trust")
    assert result.published is not None
    return "image-trust"


def test_a_trained_version_is_calibrated_on_its_heldout_rows_and_its_rows_say_so(demo_line, image_demo, capsys):
    clip = load_clip(demo_line)
    record = clip.spec.extra["calibration"]
    assert record["task"] == "shape" and record["rows"] == len(pd.read_csv(image_demo.heldout))
    assert record["ece_after"] < record["ece_before"], "temperature scaling lowered the error on rows left out"
    temperature = record["temperature"]

    run, plots = _run_of(demo_line)
    assert run.data.metrics["heldout_ece_before"] == pytest.approx(record["ece_before"])
    assert run.data.metrics["heldout_ece_after"] == pytest.approx(record["ece_after"])
    assert "plots/reliability.png" in plots
    card = card_of(demo_line)
    assert "## Calibrated scores and operating points" in card
    assert f"T = {temperature:.4g}, fitted on {record['rows']} held-out rows of `shape`" in card

    files = _files(image_demo.heldout)[:4]
    labels = ["circle", "square", "star", "cross"]
    rows = _predict_json(capsys, demo_line, *files, "--labels", *labels)
    domain = get_domain("image")
    features, _ = Predictor(clip, domain).encode([InputItem.from_path(f) for f in files])
    weights = classifier_weights(clip, PromptPack.for_labels(labels, domain.label_templates()))
    calibrated = class_probabilities(features, weights, clip, temperature)
    raw = class_probabilities(features, weights, clip)
    for row, probs, untempered in zip(rows, calibrated, raw, strict=True):
        assert row["calibrated"] is True and row["temperature"] == round(temperature, 6)
        assert row["labels"] == [labels[i] for i in untempered.argsort(descending=True)], "the ranking is unchanged"
        assert row["scores"] == pytest.approx(sorted(probs.tolist(), reverse=True), abs=1e-5)
    assert not np.allclose(calibrated.numpy(), raw.numpy(), atol=1e-3), "the temperature changed the scores"


def test_a_gda_line_is_no_longer_saturated(demo_line, image_demo, tmp_path, capsys):
    frame = pd.read_csv(image_demo.train)
    picked = frame.groupby("shape").sample(n=4, random_state=0)
    shots = tmp_path / "shots.csv"
    picked.assign(path=[str(Path(image_demo.train).parent / p) for p in picked["path"]]).to_csv(shots, index=False)
    heldout = str(image_demo.heldout)
    proc = clipzoo_inprocess(capsys, "adapt", demo_line, "--shots", str(shots), "--label-column", "shape",
                             "--method", "gda", "--heldout", heldout, "--name", "trust-gda")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "adapted head calibrated: T = " in proc.stdout

    clip = load_clip("image-trust-gda")
    head = clip.head
    record = head.info["calibration"]
    assert record["task"] == "adapted_shape" and head.temperature == record["temperature"]
    assert record["ece_after"] < record["ece_before"]
    features = encode_manifest(clip, get_domain("image"), Manifest.read(image_demo.heldout))
    saturated = head.logits(features).softmax(-1).max(1).values >= 0.999
    assert saturated.float().mean() >= 0.5, "uncalibrated, the head answers 1.000 for most held-out rows"
    calibrated = head.probabilities(features).max(1).values
    assert (calibrated < 0.999).float().mean() >= 0.9

    files = _files(image_demo.heldout)[:5]
    rows = _predict_json(capsys, "image-trust-gda", *files, "--top-k", "10")
    raw = head.logits(features[:5])
    for row, logits in zip(rows, raw, strict=True):
        assert row["classifier"].startswith("gda adapted") and row["calibrated"] is True
        assert row["temperature"] == round(head.temperature, 6)
        assert row["labels"] == [head.classes[i] for i in logits.argsort(descending=True)]
        assert max(row["scores"]) < 0.999

    evaluated = clipzoo_inprocess(capsys, "eval", "image-trust-gda", "--data", str(image_demo.heldout))
    assert evaluated.returncode == 0, evaluated.stderr
    printed = {p[0]: float(p[1]) for p in (line.split() for line in evaluated.stdout.splitlines()) if len(p) == 2}
    assert printed["adapted_shape_ece"] < printed["adapted_shape_ece_uncalibrated"]
    assert printed["shape_ece"] < printed["shape_ece_uncalibrated"], "the zero-shot classifier's, refitted here"


def test_a_model_without_heldout_data_says_its_scores_are_not_calibrated(tiny_spec, image_demo):
    torch.manual_seed(0)
    predictor = Predictor(build_model(tiny_spec), get_domain("image"))
    item = InputItem.from_path(_files(image_demo.heldout)[0])
    row = predictor.predict([item], labels=["circle", "star"])[0].to_dict()
    assert row["calibrated"] is False and "temperature" not in row and "findings" not in row
    embedded = predictor.predict([item], task="embed")[0].to_dict()
    assert "calibrated" not in embedded, "an embedding has no scores"


@pytest.fixture(scope="module")
def medical_line(tmp_path_factory):
    """A tiny medical model trained on the small demo data through ``clipzoo train`` with ``--sensitivity 0.95``."""
    from clipzoo.cli.main import main

    spec = get_domain("medical").default_spec().replace(name="tiny-trust", model_cfg=TINY_VIT, image_size=32)
    path = spec.save(tmp_path_factory.mktemp("spec") / "tiny.json")
    args = ["train", "medical", "--data", "demo", "--small", "--config", str(path), "--name", "trust",
            "--sensitivity", "0.95", "--epochs", "1", "--stage", "2d.epochs=1"]  # fmt: skip
    assert main(args) == 0
    return "medical-trust"


def _flags(rows: list[dict], finding: str) -> np.ndarray:
    return np.array([row["findings"][finding]["positive"] for row in rows])


def test_findings_are_called_at_the_operating_point_chosen_on_heldout_rows(medical_line, capsys):
    clip = load_clip(medical_line)
    points = clip.spec.extra["operating_points"]
    assert set(points) == set(FINDINGS)
    data = demo_data(get_domain("medical"), small=True)
    heldout = pd.read_csv(data.heldout)
    files = _files(data.heldout)
    rows = _predict_json(capsys, medical_line, *files, "--labels", "lung nodule", "normal chest")
    assert all(row["calibrated"] is True for row in rows)
    for finding in FINDINGS:
        point, truth = points[finding], heldout[finding].to_numpy() == 1
        assert point["target_sensitivity"] == 0.95
        flags = _flags(rows, finding)
        assert flags[truth].mean() >= 0.95, "the target sensitivity is reached on the held-out rows"
        assert flags[truth].mean() == pytest.approx(point["sensitivity"])
        assert (~flags[~truth]).mean() == pytest.approx(point["specificity"])
        low, high = point["specificity_ci"]
        assert low <= point["specificity"] <= high
        for row in rows:
            called = row["findings"][finding]
            assert called["threshold"] == round(point["threshold"], 6)
            assert called["positive"] == (called["score"] >= called["threshold"])

    attention = _predict_json(capsys, medical_line, files[0], "--task", "attention", "--labels", "lung nodule", "x")
    assert attention[0]["findings"] == rows[0]["findings"] and attention[0]["slice_attention"]

    card = card_of(medical_line)
    for finding in FINDINGS:
        assert f"| {finding} | {points[finding]['threshold']:.4f} | 0.95 |" in card
    run, _ = _run_of(medical_line)
    assert run.data.metrics["heldout_nodule_op_specificity"] == pytest.approx(points["nodule"]["specificity"])

    evaluated = clipzoo_inprocess(capsys, "eval", medical_line, "--data", str(data.heldout))
    assert evaluated.returncode == 0, evaluated.stderr
    printed = {p[0]: float(p[1]) for p in (line.split() for line in evaluated.stdout.splitlines()) if len(p) == 2}
    for finding in FINDINGS:
        assert printed[f"{finding}_op_sensitivity"] == pytest.approx(points[finding]["sensitivity"], abs=1e-4)


def test_a_present_absent_head_calls_its_finding_at_its_own_operating_point(medical_line, capsys):
    data = demo_data(get_domain("medical"), small=True)
    args = ["--shots", str(data.train), "--label-column", "effusion", "--method", "proto", "--heldout",
            str(data.heldout), "--name", "trust-effusion"]  # fmt: skip
    proc = clipzoo_inprocess(capsys, "adapt", medical_line, *args)
    assert proc.returncode == 0, proc.stderr
    head = load_clip("medical-trust-effusion").head
    point = head.info["operating_point"]
    assert point["label_column"] == "effusion" and point["target_sensitivity"] == 0.90
    rows = _predict_json(capsys, "medical-trust-effusion", *_files(data.heldout))
    truth = pd.read_csv(data.heldout)["effusion"].to_numpy() == 1
    assert all(row["classifier"].startswith("proto adapted") and row["calibrated"] for row in rows)
    assert all(row["findings"]["effusion"]["threshold"] == round(point["threshold"], 6) for row in rows)
    flags = _flags(rows, "effusion")
    assert flags[truth].mean() >= 0.90 and (~flags[~truth]).mean() == pytest.approx(point["specificity"])
    assert set(rows[0]["findings"]) == set(FINDINGS), "the other findings: the zero-shot operating points"
    assert "effusion (adapted head)" in card_of("medical-trust-effusion")


@pytest.mark.slow
def test_served_rows_carry_the_same_calls(medical_line, capsys):
    data = demo_data(get_domain("medical"), small=True)
    files = _files(data.heldout)[:2]
    local = _predict_json(capsys, medical_line, *files, "--labels", "lung nodule", "normal chest")
    root = str(Path(data.heldout).parent)
    payload = {"inputs": {"path": files}, "params": {"labels": ["lung nodule", "normal chest"]}}
    with served(medical_line, "serve-trust.log", "--data-root", root) as url:
        answer = requests.post(f"{url}/invocations", json=payload, timeout=300)
    assert answer.status_code == 200, answer.text
    for row, mine in zip(answer.json()["predictions"], local, strict=True):
        assert row["calibrated"] is True and row["temperature"] == mine["temperature"]
        assert {f: c["positive"] for f, c in row["findings"].items()} == {
            f: c["positive"] for f, c in mine["findings"].items()
        }
        assert row["scores"] == pytest.approx(mine["scores"], abs=1e-5)


def test_the_sensitivity_option_is_checked(capsys):
    proc = clipzoo_inprocess(capsys, "adapt", "medical-none", "--shots", "x.csv", "--label-column", "effusion",
                             "--sensitivity", "1.5")  # fmt: skip
    assert proc.returncode == 2 and "--sensitivity must lie in (0, 1], got 1.5" in proc.stderr
