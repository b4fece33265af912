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
    from clipzoo.core.spec import ModelSpec
    from clipzoo.core.train import TrainConfig
    from clipzoo.domains.fashion.composed import CombinerConfig
    from clipzoo.domains.fashion.pipeline import train_fashion

    from tests.conftest import TINY_OPEN_CLIP_CFG

    folder = tmp_path_factory.mktemp("fashion-model")
    spec = ModelSpec(name="tiny-fashion", domain="fashion", model_cfg=TINY_OPEN_CLIP_CFG, image_size=32,
                     vision_tower="fashion")  # fmt: skip
    result = train_fashion(
        fashion_files["train"], fashion_files["heldout"], fashion_files["train_triplets"],
        spec_path=str(spec.save(folder / "spec.json")),
        config=TrainConfig(epochs=1, batch_size=12, warmup_steps=1, checkpoint_every=100),
        combiner_config=CombinerConfig(epochs=3, batch_size=16), output_dir=str(folder / "checkpoints"),
    )  # fmt: skip
    assert result.published is not None
    return f"{result.published.name}/{result.published.version}"


@pytest.fixture(scope="session")
def fashion_catalogue(registered_fashion, fashion_files, tmp_path_factory: pytest.TempPathFactory):
    """The held-out products as a catalogue folder, built by the catalogue command with the registered model."""
    from clipzoo.domains.fashion import catalogue

    folder = tmp_path_factory.mktemp("fashion-catalogue") / "products"
    assert catalogue.main(["build", registered_fashion, str(fashion_files["heldout"]), str(folder)]) == 0
    return folder
