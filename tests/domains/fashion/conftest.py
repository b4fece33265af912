"""A tiny fashion model trained in both stages and registered once per session, and a catalogue folder built with it."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def fashion_files(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small demo catalogue (manifests, triplets, images) written by the real generator."""
    from clipzoo.domains.fashion.demo_data import write_demo_dataset

    return write_demo_dataset(tmp_path_factory.mktemp("fashion-data"), n_train=24, n_heldout=15, seed=3)


@pytest.fixture(scope="session")
def registered_fashion(fashion_files, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``clipzoo-fashion/<version>`` of a tiny model (stage 1, then a trained Combiner), through the real pipeline."""
    from clipzoo.core.domain import get_domain
    from clipzoo.core.spec import ModelSpec
    from clipzoo.core.train import TrainConfig
    from clipzoo.pipeline.train import train

    from tests.conftest import TINY_OPEN_CLIP_CFG

    folder = tmp_path_factory.mktemp("fashion-model")
    spec = ModelSpec(name="tiny-fashion", domain="fashion", model_cfg=TINY_OPEN_CLIP_CFG, image_size=32,
                     vision_tower="fashion")  # fmt: skip
    config = TrainConfig(epochs=1, batch_size=12, warmup_steps=1, checkpoint_every=100,
                         stages={"combiner": {"epochs": 3, "batch_size": 16}})  # fmt: skip
    inputs = {"train": fashion_files["train"], "train_triplets": fashion_files["train_triplets"]}
    result = train(get_domain("fashion"), spec, inputs, heldout=fashion_files["heldout"], config=config,
                   output_dir=folder / "checkpoints")  # fmt: skip
    assert result.published is not None
    return f"{result.published.name}/{result.published.version}"


@pytest.fixture(scope="session")
def fashion_catalogue(registered_fashion, fashion_files, tmp_path_factory: pytest.TempPathFactory):
    """The held-out products as a catalogue folder, built by the catalogue command with the registered model."""
    from clipzoo.cli.main import main

    folder = tmp_path_factory.mktemp("fashion-catalogue") / "products"
    assert main(["catalogue", "build", registered_fashion, str(fashion_files["heldout"]), str(folder)]) == 0
    return folder
