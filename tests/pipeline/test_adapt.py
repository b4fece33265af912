"""`clipzoo adapt` as a user runs it: a registered model adapted to a few shots, registered as a version of its own
line, then predicting (CLI and server) exactly as the adapted head does in process."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pandas as pd
import pytest
import requests
import torch
from clipzoo.core.domain import get_domain
from clipzoo.core.predict import InputItem, Predictor
from clipzoo.registry.catalog import resolve
from clipzoo.registry.loading import load_clip
from clipzoo.registry.package import sha256_file

from tests.cli.test_cli import clipzoo_inprocess
from tests.cli.test_import_cli import card_of
from tests.helpers.hub import hub_cache, write_open_clip_repo

__all__ = ["hub_cache"]  # a fixture


def _shots(image_demo, folder: Path, per_class: int, seed: int = 0) -> Path:
    """``per_class`` training images of each shape, as a manifest of absolute paths with the ``shape`` column."""
    frame = pd.read_csv(image_demo.train)
    picked = frame.groupby("shape").sample(n=per_class, random_state=seed)
    picked = picked.assign(path=[str(Path(image_demo.train).parent / p) for p in picked["path"]])
    out = folder / f"shots-{per_class}.csv"
    picked[["path", "shape"]].to_csv(out, index=False)
    return out


def _heldout_files(image_demo, n: int) -> list[str]:
    frame = pd.read_csv(image_demo.heldout)
    return [str(Path(image_demo.heldout).parent / p) for p in frame["path"][:n]]


def _predict_json(capsys, *args: str) -> list[dict]:
    proc = clipzoo_inprocess(capsys, "predict", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.fixture(scope="module")
def adapted(registered_image_model, image_demo, tmp_path_factory):
    shots = _shots(image_demo, tmp_path_factory.mktemp("shots"), per_class=4)
    return shots


def test_adapt_registers_a_line_whose_predictions_are_the_heads(adapted, image_demo, capsys):
    shots = adapted
    source = resolve("clipzoo-image")  # the version `adapt clipzoo-image` adapts: the champion
    proc = clipzoo_inprocess(
        capsys, "adapt", "clipzoo-image", "--shots", str(shots), "--label-column", "shape", "--method", "gda",
        "--heldout", str(image_demo.heldout),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    shapes = sorted(pd.read_csv(shots)["shape"].unique())
    assert f"gda adapted on 4 shots per class ({4 * len(shapes)} shots, column 'shape')" in proc.stdout
    assert "registered clipzoo-image-shape-gda version 1; adapted_shape_top1 =" in proc.stdout
    assert "zero_shot_shape_top1" in proc.stdout

    clip = load_clip("image-shape-gda")
    head = clip.head
    assert head is not None and head.method == "gda" and sorted(head.classes) == shapes
    assert head.info["shots_manifest_sha256"] == sha256_file(shots)
    files = _heldout_files(image_demo, 3)
    predictor = Predictor(clip, get_domain("image"))
    features, _ = predictor.encode([InputItem.from_path(f) for f in files])
    expected = head.probabilities(features)

    rows = _predict_json(capsys, "image-shape-gda", *files, "--top-k", "5")
    for row, probs in zip(rows, expected, strict=True):
        assert row["classifier"] == "gda adapted on 4 shots per class"
        want = {c: float(p) for c, p in zip(head.classes, probs, strict=True)}
        assert {lb: pytest.approx(want[lb], abs=1e-5) for lb in row["labels"]} == dict(
            zip(row["labels"], row["scores"], strict=True)
        )

    subset = _predict_json(capsys, "image-shape-gda", files[0], "--labels", "circle", "star")[0]
    assert sorted(subset["labels"]) == ["circle", "star"] and sum(subset["scores"]) == pytest.approx(1, abs=1e-5)
    assert subset["classifier"].startswith("gda adapted")

    outside = _predict_json(capsys, "image-shape-gda", files[0], "--labels", "circle", "banana")[0]
    assert outside["classifier"] == "zero-shot: labels outside the adapted classes (banana)"

    card = card_of("image-shape-gda")
    assert sha256_file(shots) in card and "gda" in card and "circle" in card
    assert f"clipzoo-image/{source.version}" in card

    embedded = _predict_json(capsys, "image-shape-gda", files[0], "--task", "embed", "--embeddings")[0]
    base = _predict_json(capsys, f"clipzoo-image/{source.version}", files[0], "--task", "embed", "--embeddings")[0]
    torch.testing.assert_close(torch.tensor(embedded["embedding"]), torch.tensor(base["embedding"]))


def test_a_published_checkpoint_adapts_like_a_trained_model(hub_cache, image_demo, tmp_path, capsys):
    write_open_clip_repo(hub_cache, "clipzoo-test/tiny-adapt", seed=11)
    proc = clipzoo_inprocess(capsys, "import", "hf-hub:clipzoo-test/tiny-adapt", "--domain", "image", "--name", "pub")
    assert proc.returncode == 0, proc.stderr
    shots = _shots(image_demo, tmp_path, per_class=2, seed=1)
    proc = clipzoo_inprocess(
        capsys, "adapt", "pub", "--shots", str(shots), "--label-column", "shape", "--method", "tip", "--name", "pub-tip"
    )
    assert proc.returncode == 0, proc.stderr
    assert "registered clipzoo-image-pub-tip version 1 (not evaluated)" in proc.stdout
    row = _predict_json(capsys, "pub-tip", _heldout_files(image_demo, 1)[0], "--top-k", "10")[0]
    assert sorted(row["labels"]) == sorted(pd.read_csv(shots)["shape"].unique())
    assert row["classifier"].startswith("tip adapted on 2 shots")


def test_bad_shots_are_refused_before_anything_is_registered(adapted, tmp_path, capsys):
    frame = pd.read_csv(adapted)
    one_class = tmp_path / "one.csv"
    frame.assign(shape="blob").to_csv(one_class, index=False)
    cases = [
        (("--shots", str(tmp_path / "none.csv"), "--label-column", "shape"), "manifest not found"),
        (("--shots", str(adapted), "--label-column", "size"), "manifest has no column 'size'"),
        (("--shots", str(one_class), "--label-column", "shape"), "values ['blob'] are not classes of 'shape'"),
    ]
    for args, message in cases:
        proc = clipzoo_inprocess(capsys, "adapt", "clipzoo-image", *args, "--name", "refused")
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert clipzoo_inprocess(capsys, "predict", "image-refused", "x.png").returncode == 2


@pytest.mark.slow
def test_a_served_adapted_model_answers_as_in_process(adapted, image_demo, capsys):
    from tests.helpers.serving import served

    proc = clipzoo_inprocess(
        capsys, "adapt", "clipzoo-image", "--shots", str(adapted), "--label-column", "shape", "--method", "proto",
        "--name", "served-proto",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    file = _heldout_files(image_demo, 1)[0]
    local = _predict_json(capsys, "image-served-proto", file)[0]
    payload = {"inputs": {"data": [base64.b64encode(Path(file).read_bytes()).decode()], "name": ["x.png"]}}
    with served("image-served-proto", "serve-adapted.log") as url:
        answer = requests.post(f"{url}/invocations", json=payload, timeout=120)
    assert answer.status_code == 200, answer.text
    row = answer.json()["predictions"][0]
    assert row["labels"] == local["labels"] and row["classifier"] == local["classifier"]
    assert row["scores"] == pytest.approx(local["scores"], abs=1e-5)


def test_label_columns_take_the_domains_prompts_and_a_finding_adapts_as_present_or_absent(tmp_path):
    from clipzoo.core.data import Manifest
    from clipzoo.pipeline.adapt import label_set

    findings = tmp_path / "findings.csv"
    pd.DataFrame({"path": ["a.nii.gz", "b.nii.gz", "c.nii.gz"], "effusion": [1, 0, 1]}).to_csv(findings, index=False)
    medical = get_domain("medical")
    effusion = label_set(medical, Manifest.read(findings, require_caption=False), "effusion")
    present, absent = effusion.pack.class_names
    assert effusion.binary and effusion.pack.name == "finding:effusion"
    assert effusion.labels(Manifest.read(findings, require_caption=False)) == [present, absent, present]

    glosses = tmp_path / "glosses.csv"
    pd.DataFrame({"path": ["x.pose", "y.pose"], "gloss": ["HOUSE", "BOOK"]}).to_csv(glosses, index=False)
    sign = get_domain("sign_language")
    gloss = label_set(sign, Manifest.read(glosses, require_caption=False), "gloss")
    assert not gloss.binary and gloss.pack.class_names == ["BOOK", "HOUSE"]
    assert gloss.pack.templates == sign.label_templates()


def _metric_lines(stdout: str) -> dict[str, str]:
    """The ``  name value`` lines of a command's output, by name (the printed value, four decimals)."""
    pairs = (line.split() for line in stdout.splitlines() if line.startswith("  "))
    return {p[0]: p[1] for p in pairs if len(p) == 2}


def test_eval_of_an_adapted_line_scores_its_head_as_adapt_heldout_did(
    registered_image_model, image_demo, tmp_path, capsys
):
    from clipzoo.pipeline.evaluate import evaluate_registered
    from clipzoo.registry.catalog import PRIMARY_METRIC_TAG, PRIMARY_VALUE_TAG
    from clipzoo.registry.tracking import configure

    train = pd.read_csv(image_demo.train)
    picked = train[train["shape"].isin(["circle", "square", "star"])].groupby("shape").sample(n=3, random_state=2)
    shots = tmp_path / "shots.csv"
    picked.assign(path=[str(Path(image_demo.train).parent / p) for p in picked["path"]]).to_csv(shots, index=False)
    rows = pd.read_csv(image_demo.heldout).iloc[:30]
    heldout = tmp_path / "val.csv"
    rows.assign(path=[str(Path(image_demo.heldout).parent / p) for p in rows["path"]]).to_csv(heldout, index=False)
    ours = int(rows["shape"].isin(["circle", "square", "star"]).sum())

    adapted = clipzoo_inprocess(capsys, "adapt", "clipzoo-image", "--shots", str(shots), "--label-column", "shape",
                                "--method", "gda", "--heldout", str(heldout), "--name", "eval-gda")  # fmt: skip
    assert adapted.returncode == 0, adapted.stderr
    reported = _metric_lines(adapted.stdout)
    head_keys = {f"{w}_shape_{m}" for w in ("adapted", "zero_shot") for m in ("top1", "balanced_accuracy")}
    assert head_keys <= set(reported)

    evaluated = clipzoo_inprocess(capsys, "eval", "image-eval-gda", "--data", str(heldout))
    assert evaluated.returncode == 0, evaluated.stderr
    printed = _metric_lines(evaluated.stdout)
    assert {k: printed[k] for k in head_keys} == {k: reported[k] for k in head_keys}
    assert {"shape_top1", "colour_top1", "text_to_image_R@1"} <= set(printed), "the other tasks: zero-shot"
    assert (f"scored by: adapted_shape_*: gda adapted on 3 shots per class on the {ours} held-out rows of its classes "
            f"(circle, square, star); {30 - ours} rows of other classes left out") in evaluated.stdout  # fmt: skip
    assert "every other metric zero-shot" in evaluated.stdout

    ref = resolve("image-eval-gda")
    tags = configure().get_model_version(ref.name, ref.version).tags
    assert tags[PRIMARY_METRIC_TAG] == "adapted_shape_top1"
    _, report = evaluate_registered("image-eval-gda", heldout)
    assert report.metrics["adapted_shape_top1"] == float(tags[PRIMARY_VALUE_TAG]), "the same number, not a close one"

    source = clipzoo_inprocess(capsys, "eval", "clipzoo-image", "--data", str(heldout))
    assert "scored by" not in source.stdout and not any(k.startswith("adapted_") for k in _metric_lines(source.stdout))
