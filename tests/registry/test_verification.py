"""The registry is trusted, the artifact store is not: a version whose files differ from the manifest recorded at
registration is refused by ``clipzoo predict``, ``eval`` and ``serve``, with one line naming the file, before any
of its code runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from clipzoo.core.errors import ChecksumError
from clipzoo.registry.loading import load_clip
from clipzoo.registry.manifest import MANIFEST_SHA_TAG, MANIFEST_TAG
from clipzoo.registry.package import CHECKSUMS, WEIGHTS, load_package, sha256_file
from clipzoo.registry.publish import publish
from clipzoo.registry.tracking import configure

from tests.cli.test_cli import clipzoo_inprocess
from tests.conftest import REPO


@pytest.fixture()
def spare_version(registered_image_model, image_demo) -> tuple[str, str, Path]:
    """A fresh version of the tiny model (never champion) and the folder its artifact is stored in."""
    clip = load_clip(f"clipzoo-image/{registered_image_model.published.version}")
    example = {"inputs": {"path": [_a_file(image_demo)]}, "params": {"labels": ["circle", "star"]}}
    with mlflow.start_run():
        pub = publish(clip, "card", {}, "shape_top1", {"shape_top1": -1.0}, example)
    client = configure()
    stored = Path(client.get_model_version_download_uri(pub.name, pub.version).removeprefix("file://"))
    assert (stored / "MLmodel").is_file()
    return pub.name, pub.version, stored


def _a_file(image_demo) -> str:
    return str(Path(image_demo.heldout).parent / pd.read_csv(image_demo.heldout)["path"][0])


def test_registration_records_a_manifest_of_every_file(spare_version):
    name, version, stored = spare_version
    manifest = json.loads(configure().get_model_version(name, version).tags[MANIFEST_TAG])
    package = {f"artifacts/clipzoo_model/{f}" for f in (WEIGHTS, "spec.json", "model_card.md", CHECKSUMS)}
    assert {"MLmodel", "pyfunc_model.py", *package} <= set(manifest)
    assert manifest["pyfunc_model.py"] == sha256_file(stored / "pyfunc_model.py")
    assert MANIFEST_SHA_TAG in configure().get_model_version(name, version).tags


def test_tampered_weights_with_rewritten_checksums_are_refused(spare_version, image_demo, capsys):
    name, version, stored = spare_version
    package = stored / "artifacts" / "clipzoo_model"
    weights = bytearray((package / WEIGHTS).read_bytes())
    weights[-1] ^= 0xFF
    (package / WEIGHTS).write_bytes(bytes(weights))
    sums = json.loads((package / CHECKSUMS).read_text())
    sums[WEIGHTS] = sha256_file(package / WEIGHTS)
    (package / CHECKSUMS).write_text(json.dumps(sums))
    assert load_package(package).spec.name == "tiny"  # checksums.json alone is fooled: the registry is not
    refused = rf"{name} version {version}: refused: .*artifacts/clipzoo_model/{WEIGHTS} differs"
    with pytest.raises(ChecksumError, match=refused):
        load_clip(f"{name}/{version}")
    proc = clipzoo_inprocess(capsys, "predict", f"{name}/{version}", _a_file(image_demo), "--labels", "a", "b")
    assert proc.returncode == 2 and f"{WEIGHTS} differs" in proc.stderr and len(proc.stderr.splitlines()) == 1
    proc = clipzoo_inprocess(capsys, "eval", f"{name}/{version}", "--data", str(image_demo.heldout))
    assert proc.returncode == 2 and f"{WEIGHTS} differs" in proc.stderr


def test_a_modified_pyfunc_model_py_never_runs(spare_version, image_demo, tmp_path, capsys):
    name, version, stored = spare_version
    marker = tmp_path / "code-ran"
    with open(stored / "pyfunc_model.py", "a") as fh:
        fh.write(f"\nopen({str(marker)!r}, 'w').write('pwned')\n")
    proc = clipzoo_inprocess(capsys, "predict", f"{name}/{version}", _a_file(image_demo), "--labels", "a", "b")
    assert proc.returncode == 2 and "pyfunc_model.py differs" in proc.stderr
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    serve = subprocess.run(
        [sys.executable, "-m", "clipzoo.cli.main", "serve", f"{name}/{version}", "--port", "1"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert serve.returncode == 2 and "pyfunc_model.py differs" in serve.stderr, serve.stderr[-2000:]
    assert "serving" not in serve.stderr
    assert not marker.exists()
