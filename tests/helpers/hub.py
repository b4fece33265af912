"""A temporary, offline Hugging Face cache in huggingface_hub's real layout, and tiny open_clip repos inside it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from tests.conftest import TINY_OPEN_CLIP_CFG

# A preprocess_cfg unlike open_clip's defaults: other mean/std, bilinear, squash (no crop).
PREPROCESS = {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3], "interpolation": "bilinear", "resize_mode": "squash"}


@pytest.fixture()
def hub_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache, offline, for this test only."""
    import huggingface_hub.constants as hf

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hf, "HF_HUB_OFFLINE", True)
    return cache


def snapshot(cache: Path, repo: str) -> Path:
    """A repo's snapshot folder in huggingface_hub's cache layout (refs/main -> snapshots/<commit>)."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    revision = hashlib.sha1(repo.encode()).hexdigest()
    snap = folder / "snapshots" / revision
    snap.mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(revision)
    return snap


def tiny_open_clip(seed: int) -> torch.nn.Module:
    from clipzoo.core.model import build_model
    from clipzoo.core.spec import ModelSpec

    torch.manual_seed(seed)
    return build_model(ModelSpec(name=f"src{seed}", domain="image", model_cfg=TINY_OPEN_CLIP_CFG, image_size=32)).model


def write_open_clip_repo(cache: Path, repo: str, seed: int = 0) -> Path:
    """An open_clip hf-hub repo (open_clip_config.json with a non-default preprocess_cfg + safetensors weights)."""
    snap = snapshot(cache, repo)
    config = {"model_cfg": TINY_OPEN_CLIP_CFG, "preprocess_cfg": {**PREPROCESS, "size": 32}}
    (snap / "open_clip_config.json").write_text(json.dumps(config))
    state = {k: v.contiguous() for k, v in tiny_open_clip(seed).state_dict().items()}
    save_file(state, str(snap / "open_clip_model.safetensors"))
    return snap
