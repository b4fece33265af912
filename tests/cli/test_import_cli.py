"""`clipzoo import`, `clipzoo zoo list` and model lines as a user runs them, offline (a temporary HF cache)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
import requests
from clipzoo.core.domain import get_domain
from clipzoo.core.zoo import OTHER, STATE_DICT
from clipzoo.registry.catalog import resolve
from PIL import Image

from tests.cli.test_cli import clipzoo_inprocess
from tests.helpers.hub import hub_cache, write_open_clip_repo

__all__ = ["hub_cache"]  # a fixture

EXPECTED = {
    "medical": {"biomedclip"},
    "pathology": {"quiltnet-b-32", "plip", "conch"},
    "remote_sensing": {"remoteclip-vit-b-32", "remoteclip-vit-l-14", "georsclip-vit-b-32"},
    "fashion": {"fashion-clip", "marqo-fashionsiglip"},
}


def tile(path: Path) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)).save(path)
    return path


def card_of(ref: str) -> str:
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=resolve(ref).uri))
    return next(local.rglob("model_card.md")).read_text()


def test_every_catalogue_entry_is_data_with_its_source_and_licence():
    for domain, names in EXPECTED.items():
        entries = {e.name: e for e in get_domain(domain).zoo()}
        assert names <= set(entries), domain
        for e in entries.values():
            assert (e.source.startswith("hf-hub:") and e.paper) or e.name == "marqo-fashionsiglip"
            assert e.importable or e.format == OTHER
            for r in e.reported:
                assert r.source, f"{e.name}: a reported number without its source"
    conch = next(e for e in get_domain("pathology").zoo() if e.name == "conch")
    assert not conch.importable and "non-commercial" in conch.restrictions and "conch" in conch.why_not
    remote = {e.name: e for e in get_domain("remote_sensing").zoo()}
    assert (
        remote["remoteclip-vit-b-32"].format == STATE_DICT and remote["remoteclip-vit-b-32"].architecture == "ViT-B-32"
    )


def test_zoo_list_shows_entries_licences_and_what_to_download(hub_cache, capsys, tmp_path):
    proc = clipzoo_inprocess(capsys, "zoo", "list")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for names in EXPECTED.values():
        for name in names:
            assert name in out
    assert "hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224" in out and "arXiv:2303.00915" in out
    assert "CC-BY-NC-ND-4.0 (non-commercial, no derivatives" in out and "not importable" in out
    assert "huggingface-cli download chendelong/RemoteCLIP RemoteCLIP-ViT-B-32.pt" in out
    assert "zero-shot classification, FMNIST weighted macro F1 = 0.83 (patrickjohncyh/fashion-clip model card" in out
    assert "text-to-image retrieval, mean of 6 datasets Recall@1 = 0.121 (Marqo/marqo-fashionSigLIP model card" in out
    assert str(hub_cache / "models--chendelong--RemoteCLIP") in out

    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "RemoteCLIP-ViT-B-32.pt").write_bytes(b"")
    proc = clipzoo_inprocess(capsys, "zoo", "list", "--domain", "remote_sensing", "--folder", str(folder))
    assert "remoteclip-vit-b-32    [here]" in proc.stdout and str(folder / "RemoteCLIP-ViT-B-32.pt") in proc.stdout
    assert "biomedclip" not in proc.stdout


def test_importing_a_missing_or_unimportable_entry_says_why(hub_cache, capsys):
    proc = clipzoo_inprocess(capsys, "import", "biomedclip", "--domain", "medical")
    assert proc.returncode == 2
    assert "huggingface-cli download microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224" in proc.stderr
    assert str(hub_cache) in proc.stderr and "--allow-download" in proc.stderr
    proc = clipzoo_inprocess(capsys, "import", "remoteclip-vit-b-32", "--domain", "remote_sensing")
    assert proc.returncode == 2 and "RemoteCLIP-ViT-B-32.pt" in proc.stderr and "--folder" in proc.stderr
    proc = clipzoo_inprocess(capsys, "import", "conch", "--domain", "pathology")
    assert proc.returncode == 2 and "cannot be imported" in proc.stderr and "CC-BY-NC-ND" in proc.stderr
    proc = clipzoo_inprocess(capsys, "import", "hf-hub:clipzoo-test/nothing-here", "--domain", "image", "--name", "x")
    assert proc.returncode == 2 and "not in the Hugging Face cache" in proc.stderr


def test_import_a_catalogue_entry_then_predict_with_its_line(hub_cache, capsys, tmp_path):
    """A cached QuiltNet (a tiny stand-in in its exact layout) imports by catalogue name, with its licence and paper
    in the card, and predicts on a pathology tile through `clipzoo predict` under its line name."""
    snap = write_open_clip_repo(hub_cache, "wisdomik/QuiltNet-B-32", seed=5)
    proc = clipzoo_inprocess(capsys, "zoo", "list", "--domain", "pathology")
    assert str(snap) in proc.stdout
    proc = clipzoo_inprocess(capsys, "import", "quiltnet-b-32", "--domain", "pathology")
    assert proc.returncode == 0, proc.stderr
    assert "registered clipzoo-pathology-quiltnet-b-32 version 1 (not evaluated) -> champion" in proc.stdout
    assert "bilinear" in proc.stdout and "licence: MIT" in proc.stdout

    card = card_of("quiltnet-b-32")
    assert "hf-hub:wisdomik/QuiltNet-B-32" in card and snap.name in card and "MIT" in card
    assert "arXiv:2306.11207" in card and "@inproceedings{ikezogwo2023quilt" in card
    assert "open_clip_model.safetensors" in card

    proc = clipzoo_inprocess(
        capsys, "predict", "quiltnet-b-32", str(tile(tmp_path / "t.png")), "--labels", "tumor", "stroma", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout.splitlines()[0])
    assert sorted(row["labels"]) == ["stroma", "tumor"] and row["error"] is None

    proc = clipzoo_inprocess(capsys, "models", "list")
    assert "pathology:" in proc.stdout and "line quiltnet-b-32" in proc.stdout


def test_a_second_import_of_a_line_keeps_its_champion_and_a_licence_is_carried(hub_cache, capsys):
    write_open_clip_repo(hub_cache, "clipzoo-test/tiny-fashion", seed=6)
    for _ in range(2):
        proc = clipzoo_inprocess(
            capsys,
            "import",
            "hf-hub:clipzoo-test/tiny-fashion",
            "--domain",
            "fashion",
            "--name",
            "tiny-fashion",
            "--licence",
            "CC-BY-NC-4.0",
        )
        assert proc.returncode == 0, proc.stderr
    assert "version 2 (not evaluated) (champion kept)" in proc.stdout
    assert resolve("tiny-fashion").version == "1"
    assert "CC-BY-NC-4.0" in card_of("fashion-tiny-fashion/2")


@pytest.mark.slow
def test_an_imported_model_is_served(hub_cache, capsys, tmp_path):
    from tests.helpers.serving import served

    write_open_clip_repo(hub_cache, "clipzoo-test/tiny-served", seed=7)
    proc = clipzoo_inprocess(
        capsys, "import", "hf-hub:clipzoo-test/tiny-served", "--domain", "image", "--name", "served"
    )
    assert proc.returncode == 0, proc.stderr
    payload = {
        "inputs": {"data": [base64.b64encode(tile(tmp_path / "x.png").read_bytes()).decode()], "name": ["x.png"]},
        "params": {"labels": ["cat", "dog"], "top_k": 2},
    }
    with served("served", "serve-imported.log") as url:
        answer = requests.post(f"{url}/invocations", json=payload, timeout=120)
    assert answer.status_code == 200, answer.text
    row = answer.json()["predictions"][0]
    assert sorted(row["labels"]) == ["cat", "dog"] and row["error"] is None
