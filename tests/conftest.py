"""Shared fixtures: an isolated clipzoo home and MLflow store, tiny demo data and tiny model specs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
if os.environ.get("PYTEST_XDIST_WORKER"):  # `make test` runs a worker per core: one compute thread each
    os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# A tiny ViT and a tiny open_clip text transformer: builds in well under a second, trains in milliseconds a step.
TINY_OPEN_CLIP_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
# The same tiny ViT with the bundled pretrained all-MiniLM-L6-v2 text tower, locked (LiT).
TINY_MINILM_CFG = {
    "embed_dim": 32,
    "vision_cfg": TINY_OPEN_CLIP_CFG["vision_cfg"],
    "text_cfg": {
        "hf_model_name": "bundled:all-MiniLM-L6-v2",
        "hf_pooler_type": "mean_pooler",
        "hf_proj_type": "linear",
        "context_length": 24,
    },
}


@pytest.fixture(scope="session", autouse=True)
def clipzoo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test session gets its own clipzoo folder and SQLite MLflow store."""
    home = tmp_path_factory.mktemp("clipzoo-home")
    os.environ["CLIPZOO_HOME"] = str(home)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{home / 'mlflow.db'}"
    return home


@pytest.fixture(scope="session")
def image_demo(tmp_path_factory: pytest.TempPathFactory):
    """The image domain's small demo dataset, written once by the real generator."""
    from clipzoo.core.domain import get_domain

    return get_domain("image").write_demo_data(tmp_path_factory.mktemp("image-demo"), seed=0, small=True)


@pytest.fixture()
def tiny_spec():
    from clipzoo.core.spec import ModelSpec

    return ModelSpec(name="tiny", domain="image", model_cfg=TINY_OPEN_CLIP_CFG, image_size=32)


@pytest.fixture()
def tiny_lit_spec():
    from clipzoo.core.spec import ModelSpec

    return ModelSpec(name="tiny-lit", domain="image", model_cfg=TINY_MINILM_CFG, image_size=32, lock_text=True)


def write_spec(spec, folder: Path) -> Path:
    return spec.save(folder / f"{spec.name}.json")


@pytest.fixture(scope="session")
def registered_image_model(image_demo, tmp_path_factory: pytest.TempPathFactory):
    """Train a tiny image model on the small demo data and register it, once per session, through the real job."""
    from clipzoo.core.domain import get_domain
    from clipzoo.core.spec import ModelSpec
    from clipzoo.core.train import TrainConfig
    from clipzoo.pipeline.train import train

    folder = tmp_path_factory.mktemp("registered")
    spec = ModelSpec(name="tiny", domain="image", model_cfg=TINY_OPEN_CLIP_CFG, image_size=32)
    result = train(
        get_domain("image"),
        spec,
        {"train": image_demo.train},
        heldout=image_demo.heldout,
        config=TrainConfig(epochs=2, batch_size=16, warmup_steps=2, checkpoint_every=4),
        output_dir=folder / "checkpoints",
    )
    assert result.published is not None
    return result
