"""`clipzoo eval --benchmark`, `clipzoo leaderboard` and the benchmark-gated champion, with real MLflow runs.

The image domain ships no standard benchmark, so the tests give it one (a shapes benchmark with a published anchor,
converted by a converter that copies a manifest); the domains' own benchmarks and converters are tested per domain.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from clipzoo.core.benchmark import Anchor, Benchmark
from clipzoo.core.benchmark_eval import evaluate_classification, evaluate_multilabel, evaluate_retrieval
from clipzoo.core.data import Manifest
from clipzoo.core.domain import Converter, get_domain
from clipzoo.core.evaluate import encode_manifest
from clipzoo.core.zeroshot import PromptPack, classifier_weights
from clipzoo.registry.loading import load_clip
from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score

from tests.cli.test_cli import clipzoo_inprocess
from tests.helpers.hub import hub_cache, write_open_clip_repo

__all__ = ["hub_cache"]  # a fixture

SHAPES = {"circle": ["circle"], "square": ["square"], "triangle": ["triangle"], "star": ["star"],
          "cross": ["cross"], "ring": ["ring"]}  # fmt: skip
ANCHOR = Anchor("ShapeCLIP ViT-B/16", 0.91, "Doe et al. 2025, Table 2")


def _copy_manifest(source: str, out: str) -> str:
    """A 'published layout' of one CSV: ``<folder>/labels.csv`` with ``file`` and ``label`` columns."""
    frame = pd.read_csv(Path(source) / "labels.csv")
    rows = pd.DataFrame({"path": [str(Path(source) / f) for f in frame["file"]], "shape": frame["label"]})
    rows.to_csv(out, index=False)
    _copy_manifest.calls += 1
    return f"wrote {len(rows)} rows"


_copy_manifest.calls = 0


@pytest.fixture()
def shapes_benchmark(monkeypatch):
    domain = get_domain("image")
    bench = Benchmark(name="shapes-6", domain="image", title="Shapes-6", task="classification", layout="shapes",
                      metric="top1", source="tests", label_column="shape", classes=SHAPES,
                      templates=("a photo of a {}.",), anchors=(ANCHOR,))  # fmt: skip
    monkeypatch.setattr(type(domain), "benchmarks", lambda self: [bench])
    monkeypatch.setattr(type(domain), "converters", lambda self: {"shapes": Converter("shapes", _copy_manifest, "")})
    return bench


def _published_folder(image_demo, folder: Path, rows: slice) -> Path:
    """The heldout images listed as the test benchmark's published layout (a labels.csv beside them)."""
    frame = pd.read_csv(image_demo.heldout).iloc[rows]
    folder.mkdir(parents=True, exist_ok=True)
    files = [str(Path(image_demo.heldout).parent / p) for p in frame["path"]]
    pd.DataFrame({"file": files, "label": frame["shape"]}).to_csv(folder / "labels.csv", index=False)
    return folder


def test_benchmark_metrics_equal_scikit_learns(registered_image_model, image_demo):
    clip = load_clip("clipzoo-image/1")
    domain = get_domain("image")
    manifest = Manifest.read(image_demo.heldout)
    features = encode_manifest(clip, domain, manifest)
    pack = PromptPack.from_dict("shapes", {"templates": ["a photo of a {}."], "classes": SHAPES})
    report = evaluate_classification(clip, features, manifest, pack, "shape")
    logits = features @ classifier_weights(clip, pack).T
    truth = [pack.class_names.index(s) for s in manifest.column("shape")]
    predicted = logits.argmax(1).numpy()
    assert report.metrics["top1"] == pytest.approx(accuracy_score(truth, predicted))
    assert report.metrics["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(truth, predicted))

    frame = manifest.frame.assign(circle=(manifest.frame["shape"] == "circle").astype(int))
    bench = Benchmark(name="circles", domain="image", title="", task="multilabel", layout="x", metric="mean_auroc",
                      source="tests", classes={"circle": ["circle"]}, negatives={"circle": ["square"]},
                      templates=("a photo of a {}.",))  # fmt: skip
    multi = evaluate_multilabel(clip, features, Manifest(frame, manifest.root, manifest.source), bench)
    template = ("a photo of a {}.",)
    pair = torch.cat([classifier_weights(clip, PromptPack("p", template, {"c": ("circle",)})),
                      classifier_weights(clip, PromptPack("n", template, {"s": ("square",)}))])  # fmt: skip
    score = (clip.model.logit_scale.exp().detach() * features @ pair.T).softmax(-1)[:, 0].numpy()
    assert multi.metrics["mean_auroc"] == pytest.approx(roc_auc_score(frame["circle"], score))

    retrieval = evaluate_retrieval(clip, features, manifest, "caption")
    captions = manifest.captions()
    unique = list(dict.fromkeys(captions))
    from clipzoo.core.zeroshot import encode_texts

    sim = (encode_texts(clip, unique) @ features.T).numpy()
    hits = [any(captions[j] == text for j in np.argsort(-sim[i], kind="stable")[:10]) for i, text in enumerate(unique)]
    assert retrieval.metrics["R@10"] == pytest.approx(np.mean(hits))


def test_eval_benchmark_logs_a_run_per_version_and_the_leaderboard_shows_them_beside_the_anchor(
    registered_image_model, image_demo, shapes_benchmark, tmp_path, capsys
):
    folder = _published_folder(image_demo, tmp_path / "shapes", slice(0, 40))
    adapt = clipzoo_inprocess(capsys, "adapt", "clipzoo-image/1", "--shots", str(_shots(image_demo, tmp_path)),
                              "--label-column", "shape", "--name", "bench-gda")  # fmt: skip
    assert adapt.returncode == 0, adapt.stderr
    calls = _copy_manifest.calls
    for model in ("clipzoo-image/1", "image-bench-gda/1"):
        proc = clipzoo_inprocess(capsys, "eval", model, "--benchmark", "shapes-6", "--data", str(folder))
        assert proc.returncode == 0, proc.stderr
        assert "top1" in proc.stdout and "<- top1" in proc.stdout
        assert f"published: {ANCHOR.model} top1 = 0.91 ({ANCHOR.source})" in proc.stdout
    assert _copy_manifest.calls == calls + 1, "the converted manifest is cached by the folder's content"

    rows = _leaderboard(capsys)
    measured = {r["model"]: r for r in rows if not r["published"]}
    assert set(measured) == {"clipzoo-image/1", "clipzoo-image-bench-gda/1"}
    assert len({r["manifest_sha256"] for r in measured.values()}) == 1
    published = [r for r in rows if r["published"]]
    assert published == [{**published[0], "model": ANCHOR.model, "value": 0.91, "source": ANCHOR.source}]
    table = clipzoo_inprocess(capsys, "leaderboard", "--domain", "image").stdout
    assert "image / shapes-6: Shapes-6" in table and f"published ({ANCHOR.source})" in table
    run_id = table.split("leaderboard.json of run ")[1].split()[0]
    logged = mlflow.load_table("leaderboard.json", run_ids=[run_id])
    assert set(logged["model"]) == {"clipzoo-image/1", "clipzoo-image-bench-gda/1", ANCHOR.model}

    other = _published_folder(image_demo, tmp_path / "shapes-other", slice(40, 80))
    proc = clipzoo_inprocess(capsys, "eval", "clipzoo-image/1", "--benchmark", "shapes-6", "--data", str(other))
    assert proc.returncode == 0, proc.stderr
    boards = _leaderboard(capsys)
    hashes = {r["manifest_sha256"] for r in boards if not r["published"]}
    assert len(hashes) == 2, "results on another manifest are a board of their own"


def test_a_gated_line_compares_only_results_on_the_same_manifest(
    hub_cache, image_demo, shapes_benchmark, tmp_path, capsys
):
    for seed in (1, 2):
        write_open_clip_repo(hub_cache, f"clipzoo-test/gated-{seed}", seed=seed)
        proc = clipzoo_inprocess(capsys, "import", f"hf-hub:clipzoo-test/gated-{seed}", "--domain", "image",
                                 "--name", "gated")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    proc = clipzoo_inprocess(capsys, "models", "gate", "gated", "--benchmark", "shapes-6")
    assert proc.returncode == 0 and "champion decided on benchmark shapes-6" in proc.stdout
    first = _published_folder(image_demo, tmp_path / "a", slice(0, 30))
    second = _published_folder(image_demo, tmp_path / "b", slice(30, 60))

    proc = clipzoo_inprocess(capsys, "eval", "gated/1", "--benchmark", "shapes-6", "--data", str(first))
    assert "clipzoo-image-gated version 1 is champion on shapes-6" in proc.stdout
    proc = clipzoo_inprocess(capsys, "eval", "gated/2", "--benchmark", "shapes-6", "--data", str(second))
    assert "not compared with champion version 1: the champion has no result on this data" in proc.stdout
    assert clipzoo_inprocess(capsys, "models", "show", "gated@champion", "--json").stdout.count('"version": "1"') == 1

    proc = clipzoo_inprocess(capsys, "eval", "gated/2", "--benchmark", "shapes-6", "--data", str(first))
    became = "version 2 is champion on shapes-6" in proc.stdout
    assert became or "champion kept: it scores higher on shapes-6" in proc.stdout

    write_open_clip_repo(hub_cache, "clipzoo-test/gated-3", seed=3)
    proc = clipzoo_inprocess(capsys, "import", "hf-hub:clipzoo-test/gated-3", "--domain", "image", "--name", "gated",
                             "--heldout", str(image_demo.heldout))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "champion is decided on benchmark 'shapes-6'" in proc.stdout


def _leaderboard(capsys) -> list[dict]:
    proc = clipzoo_inprocess(capsys, "leaderboard", "--domain", "image", "--json")
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _shots(image_demo, folder: Path) -> Path:
    frame = pd.read_csv(image_demo.train).groupby("shape").sample(n=3, random_state=0)
    frame = frame.assign(path=[str(Path(image_demo.train).parent / p) for p in frame["path"]])
    out = folder / "shots.csv"
    frame[["path", "shape"]].to_csv(out, index=False)
    return out


def test_a_benchmark_eval_of_an_adapted_line_scores_its_head_on_the_head_classes(
    registered_image_model, image_demo, shapes_benchmark, monkeypatch, tmp_path, capsys
):
    domain = get_domain("image")
    wider = Benchmark(name="shapes-7", domain="image", title="Shapes-7", task="classification", layout="shapes",
                      metric="top1", source="tests", label_column="shape", classes={**SHAPES, "heart": ["heart"]},
                      templates=("a photo of a {}.",))  # fmt: skip
    monkeypatch.setattr(type(domain), "benchmarks", lambda self: [shapes_benchmark, wider])
    folder = _published_folder(image_demo, tmp_path / "shapes", slice(0, 30))
    adapt = clipzoo_inprocess(capsys, "adapt", "clipzoo-image/1", "--shots", str(_shots(image_demo, tmp_path)),
                              "--label-column", "shape", "--method", "gda", "--name", "bench-head")  # fmt: skip
    assert adapt.returncode == 0, adapt.stderr
    gate = clipzoo_inprocess(capsys, "models", "gate", "image-bench-head", "--benchmark", "shapes-6")
    assert gate.returncode == 0, gate.stderr

    printed = {}
    for model in ("clipzoo-image/1", "image-bench-head/1"):
        for bench in ("shapes-6", "shapes-7"):
            proc = clipzoo_inprocess(capsys, "eval", model, "--benchmark", bench, "--data", str(folder))
            assert proc.returncode == 0, proc.stderr
            printed[model, bench] = proc.stdout
    assert "  scored by: zero-shot\n" in printed["clipzoo-image/1", "shapes-6"]
    head_run = printed["image-bench-head/1", "shapes-6"]
    assert "  scored by: adapted: gda adapted on 3 shots per class, restricted to the benchmark's 6 classes" in head_run
    assert "clipzoo-image-bench-head version 1 is champion on shapes-6" in head_run, "the gate took the head's number"
    assert ("  scored by: zero-shot: benchmark classes outside the adapted classes (heart)"
            in printed["image-bench-head/1", "shapes-7"])  # fmt: skip

    clip = load_clip("image-bench-head/1")
    manifest_file = tmp_path / "rows.csv"
    labels = pd.read_csv(folder / "labels.csv")
    pd.DataFrame({"path": labels["file"], "shape": labels["label"]}).to_csv(manifest_file, index=False)
    features = encode_manifest(clip, domain, Manifest.read(manifest_file, require_caption=False))
    logits = clip.head.logits(features)[:, [clip.head.classes.index(c) for c in SHAPES]]
    truth = np.array([list(SHAPES).index(s) for s in labels["label"]])
    head_accuracy = float((logits.argmax(1).numpy() == truth).mean())

    rows = [r for r in _leaderboard(capsys) if not r["published"]]
    adapted = {r["benchmark"]: r for r in rows if r["model"] == "clipzoo-image-bench-head/1"}
    source = {r["benchmark"]: r for r in rows if r["model"] == "clipzoo-image/1"
              and r["manifest_sha256"] == adapted[r["benchmark"]]["manifest_sha256"]}  # fmt: skip
    assert adapted["shapes-6"]["scored_by"] == "adapted" and source["shapes-6"]["scored_by"] == "zero-shot"
    assert adapted["shapes-6"]["value"] == pytest.approx(head_accuracy, abs=1e-9)
    assert adapted["shapes-6"]["value"] != source["shapes-6"]["value"], "the head, not the zero-shot prompts"
    assert adapted["shapes-7"]["scored_by"] == "zero-shot"
    assert adapted["shapes-7"]["value"] == pytest.approx(source["shapes-7"]["value"], abs=1e-9)
