"""The train job's stage plan: what runs, what is skipped, what is missing."""

from __future__ import annotations

import pytest
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.stages import CONTRASTIVE, Stage
from clipzoo.core.train import TrainConfig
from clipzoo.pipeline.train import plan_stages, train_config


def test_a_required_stage_without_its_data_names_the_flag(tmp_path, monkeypatch):
    domain = get_domain("image")
    extra = Stage("extra", "an extra stage", input="extra")
    monkeypatch.setattr(domain, "stages", lambda spec: [CONTRASTIVE, extra])
    with pytest.raises(InputError, match=r"stage 'extra' \(an extra stage\) needs its data: give --input extra=PATH"):
        plan_stages(domain, domain.default_spec(), {"train": tmp_path / "train.csv"})
    optional = Stage("extra", "an extra stage", input="extra", optional=True)
    monkeypatch.setattr(domain, "stages", lambda spec: [CONTRASTIVE, optional])
    planned = plan_stages(domain, domain.default_spec(), {"train": tmp_path / "train.csv"})
    assert [(p.stage.name, p.source) for p in planned] == [("contrastive", tmp_path / "train.csv"), ("extra", None)]


def test_a_stage_found_beside_the_training_data(tmp_path):
    beside = tmp_path / "train.triplets.csv"
    stage = Stage("x", "x", input="triplets", optional=True, locate=lambda p: p.with_name(p.stem + ".triplets.csv"))
    assert stage.find_input({"train": tmp_path / "train.csv"}) is None  # not written yet
    beside.write_text("reference,modification,target\n")
    assert stage.find_input({"train": tmp_path / "train.csv"}) == beside
    assert stage.find_input({"train": tmp_path / "train.csv", "triplets": tmp_path / "t.csv"}) == tmp_path / "t.csv"


def test_per_stage_settings_merge_over_the_defaults_and_the_job():
    config = train_config(
        {"epochs": 12, "lr": 2e-3, "stages": {"2d": {"epochs": 20, "batch_size": 64}}},
        {"epochs": 3, "stages": {"2d": {"epochs": 5}}},
    )
    assert config.epochs == 3 and config.lr == 2e-3
    assert config.stages == {"2d": {"epochs": 5, "batch_size": 64}}
    stage = config.for_stage("2d")
    assert (stage.epochs, stage.batch_size, stage.lr, stage.stages) == (5, 64, 2e-3, {})
    assert config.for_stage("3d").epochs == 3
    with pytest.raises(InputError, match="unknown training setting"):
        TrainConfig(stages={"2d": {"epoch": 5}}).for_stage("2d")
