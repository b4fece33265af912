"""The `clipzoo` command as a user runs it: predictions, registry commands, and exit code 2 on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from clipzoo.cli.main import main

from tests.conftest import REPO


def clipzoo(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The installed console script, in its own process, as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    exe = Path(sys.executable).with_name("clipzoo")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def clipzoo_inprocess(capsys, *args: str) -> subprocess.CompletedProcess:
    """`clipzoo.cli.main.main` in this process (much faster than a new interpreter per case)."""
    code = main(list(args))
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


def _heldout_files(image_demo, n=2):
    frame = pd.read_csv(image_demo.heldout)
    return [str(Path(image_demo.heldout).parent / p) for p in frame["path"][:n]], frame


def test_predict_ranks_labels_for_each_file(registered_image_model, image_demo):
    files, _ = _heldout_files(image_demo)
    proc = clipzoo("predict", "clipzoo-image@champion", *files, "--labels", "circle", "square", "star", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["input"] for r in rows] == files
    for r in rows:
        assert sorted(r["labels"]) == ["circle", "square", "star"]
        assert abs(sum(r["scores"]) - 1) < 1e-4 and r["scores"] == sorted(r["scores"], reverse=True)
        assert r["error"] is None


def test_predict_embeddings_are_unit_vectors(registered_image_model, image_demo):
    files, _ = _heldout_files(image_demo, 1)
    proc = clipzoo(
        "predict", f"clipzoo-image/{registered_image_model.published.version}", files[0], "--task", "embed", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    emb = json.loads(proc.stdout)["embedding"]
    assert len(emb) == 32 and abs(sum(x * x for x in emb) - 1) < 1e-4


def test_bad_file_is_named_and_others_still_answered(registered_image_model, image_demo, tmp_path):
    files, _ = _heldout_files(image_demo, 1)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    proc = clipzoo("predict", "clipzoo-image", files[0], str(empty), str(corrupt), "--labels", "circle", "star")
    assert proc.returncode == 2
    assert f"ERROR {empty}: file is empty (0 bytes)" in proc.stderr
    assert proc.stderr.count(str(empty)) == 1, "the path is named once"
    assert str(corrupt) in proc.stderr and "not a decodable image" in proc.stderr
    assert proc.stdout.startswith(files[0])


def test_json_prints_one_row_per_input_when_every_input_is_bad(registered_image_model, tmp_path, capsys):
    empty, missing = tmp_path / "empty.png", tmp_path / "missing.png"
    empty.write_bytes(b"")
    proc = clipzoo_inprocess(capsys, "predict", "clipzoo-image", str(empty), str(missing), "--labels", "a", "--json")
    assert proc.returncode == 2
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["input"] for r in rows] == [str(empty), str(missing)]
    assert "file is empty (0 bytes)" in rows[0]["error"] and "file not found" in rows[1]["error"]
    assert all(r["labels"] == [] and r["warnings"] == [] for r in rows)


def test_user_errors_exit_2_with_a_clear_message(registered_image_model, image_demo, tmp_path, capsys):
    files, _ = _heldout_files(image_demo, 1)
    cases = [
        (("predict", "clipzoo-image", files[0]), "classification needs candidate labels: give --labels LABEL"),
        (("predict", "clipzoo-image", files[0], "--labels", "a", "--top-k", "0"), "top_k must be >= 1, got 0"),
        (("predict", "no-such-model", files[0], "--labels", "a"), "no registered model 'no-such-model'"),
        (("predict", "clipzoo-image@nope", files[0], "--labels", "a"), "has no alias 'nope'"),
        (("predict", "clipzoo-image", str(tmp_path / "missing.png"), "--labels", "a"), "file not found"),
        (("train", "image", "--data", str(tmp_path / "none.csv")), "manifest not found"),
        (("train", "nosuchdomain", "--data", "demo"), "unknown domain 'nosuchdomain'"),
        (("models", "promote", "clipzoo-image", "999"), "has no version '999'"),
    ]
    for args, message in cases:
        proc = clipzoo_inprocess(capsys, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_manifest_without_caption_column_is_reported(tmp_path, capsys):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\na.png,cat\n")
    proc = clipzoo_inprocess(capsys, "train", "image", "--data", str(manifest))
    assert proc.returncode == 2
    assert str(manifest) in proc.stderr and "caption" in proc.stderr


def test_models_list_show_promote(registered_image_model, capsys):
    def clipzoo(*args):
        return clipzoo_inprocess(capsys, *args)

    listed = clipzoo("models", "list")
    assert listed.returncode == 0 and "clipzoo-image" in listed.stdout and "champion->v" in listed.stdout
    shown = clipzoo("models", "show", "clipzoo-image@champion", "--json")
    info = json.loads(shown.stdout)
    assert info["name"] == "clipzoo-image" and "champion" in info["aliases"]
    assert len(info["tags"]["clipzoo.weights_sha256"]) == 64
    card = clipzoo("models", "show", "clipzoo-image@champion", "--card")
    assert card.returncode == 0 and card.stdout.strip() == info["card"].strip() and card.stdout.startswith("#")
    full = clipzoo("models", "show", "clipzoo-image@champion")
    assert full.stdout.startswith(card.stdout.rstrip())  # the card first, then where the model is
    assert f"model URI:    {info['uri']}" in full.stdout and f"artifact URI: {info['artifact_uri']}" in full.stdout
    assert Path(info["artifact_uri"].removeprefix("file://")).exists()
    promoted = clipzoo(
        "models", "promote", "clipzoo-image", registered_image_model.published.version, "--alias", "staging"
    )
    assert promoted.returncode == 0
    staged = json.loads(clipzoo("models", "show", "clipzoo-image@staging", "--json").stdout)
    assert staged["version"] == registered_image_model.published.version


def test_eval_and_predict_by_run_id(registered_image_model, image_demo, capsys):
    evaluated = clipzoo_inprocess(capsys, "eval", "clipzoo-image@champion", "--data", str(image_demo.heldout))
    assert evaluated.returncode == 0, evaluated.stderr
    lines = dict(line.split() for line in evaluated.stdout.strip().splitlines())
    assert {"shape_top1", "colour_top1", "text_to_image_R@1"} <= set(lines)
    assert 0.0 <= float(lines["shape_top1"]) <= 1.0
    files, _ = _heldout_files(image_demo, 1)
    by_run = clipzoo_inprocess(capsys, "predict", registered_image_model.run_id, files[0], "--labels", "circle", "star")
    assert by_run.returncode == 0, by_run.stderr
    assert by_run.stdout.startswith(files[0])


def test_predict_embeds_a_text_query_alone(registered_image_model):
    model = f"clipzoo-image/{registered_image_model.published.version}"
    proc = clipzoo("predict", model, "--task", "embed", "--text", "a red circle", "--json")
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    assert row["input"] == "a red circle" and len(row["embedding"]) == 32
    proc = clipzoo("predict", model)
    assert proc.returncode == 2 and "nothing to predict" in proc.stderr
