"""The train job: a domain's training stages in order, then held-out evaluation and registration, in one MLflow run.

``clipzoo train`` and ``clipzoo demo`` run this same job, so a domain's recipe (RadCLIP's 2D stage before slice
pooling, CLIP4Cir's Combiner after the contrastive stage) is the same whichever command starts it. Killed at any
point and started again with the same arguments, it resumes: finished contrastive stages reload their last
checkpoint, the running one resumes from its own, and the MLflow run is continued.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
from clipzoo.core.data import Manifest, seed_everything
from clipzoo.core.distributed import DistEnv, init_distributed
from clipzoo.core.domain import Domain
from clipzoo.core.errors import ClipzooError, InputError
from clipzoo.core.model import ClipModel, build_model
from clipzoo.core.operating_points import DEFAULT_SENSITIVITY
from clipzoo.core.spec import ModelSpec
from clipzoo.core.stages import TRAIN_INPUT, Stage
from clipzoo.core.train import TrainConfig, Trainer
from clipzoo.registry import plots
from clipzoo.registry.callbacks import MlflowLogger
from clipzoo.registry.publish import Published
from clipzoo.registry.runs import recover_run
from clipzoo.registry.tracking import check_line, clipzoo_home, experiment_for

from .calibrate import check_sensitivity
from .data import TrainingData, training_data
from .evaluate import evaluate
from .register import register as register_model

RUN_ID_FILE = "mlflow_run_id.txt"


@dataclass
class TrainResult:
    """What the job produced: the trained model (on the main rank), its held-out metrics, the registered version."""

    clip: ClipModel | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    published: Published | None = None
    run_id: str | None = None
    output_dir: Path | None = None
    stages: dict[str, str] = field(default_factory=dict)  # stage name -> what it did
    seconds: float = 0.0


def train_config(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> TrainConfig:
    """``TrainConfig`` from a domain's defaults and the user's settings; per-stage settings merge stage by stage."""
    stages = {name: dict(values) for name, values in defaults.get("stages", {}).items()}
    for name, values in overrides.get("stages", {}).items():
        stages[name] = {**stages.get(name, {}), **values}
    return TrainConfig(**{**defaults, **overrides, "stages": stages})


@dataclass
class _PlannedStage:
    stage: Stage
    source: Path | None  # None: an optional stage without its input, skipped


def plan_stages(domain: Domain, spec: ModelSpec, inputs: Mapping[str, Path]) -> list[_PlannedStage]:
    """The domain's stages with the file each reads; a required stage without its input is an error."""
    planned = []
    for stage in domain.stages(spec):
        source = stage.find_input(inputs)
        if source is None and not stage.optional:
            flag = "--data" if stage.input == TRAIN_INPUT else f"--input {stage.input}=PATH"
            raise InputError(f"training stage {stage.name!r} ({stage.description}) needs its data: give {flag}")
        planned.append(_PlannedStage(stage, source))
    return planned


def _fingerprint(spec: ModelSpec, config: TrainConfig, planned: list[_PlannedStage]) -> str:
    sources = {p.stage.name: str(p.source) for p in planned}
    payload = json.dumps([spec.to_dict(), config.to_dict(), sources], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _claim_output_dir(output_dir: Path, fingerprint: str) -> None:
    marker = output_dir / "fingerprint.txt"
    if marker.is_file() and marker.read_text().strip() != fingerprint:
        raise InputError(
            "holds a checkpoint of a different run (other spec, settings or data); choose another --output-dir",
            output_dir,
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(fingerprint)


class _StageRunner:
    """Runs planned stages on one model; on the main rank it logs each to the active MLflow run."""

    def __init__(self, clip: ClipModel, domain: Domain, config: TrainConfig, out: Path, env: DistEnv, several: bool):
        self.clip, self.domain, self.config, self.out, self.env, self.several = clip, domain, config, out, env, several
        self.ran: set[str] = set()
        self.data: dict[str, TrainingData] = {}

    def run(self, planned: _PlannedStage, inputs: Mapping[str, Path]) -> str:
        stage = planned.stage
        if planned.source is None:
            return f"skipped: no {stage.input!r} input given"
        if stage.contrastive:
            summary = self._contrastive(stage, planned.source)
        elif self.env.is_main:
            summary = self._fit(stage, {**inputs, stage.input: planned.source})
        else:
            summary = "on the main rank"
        self.ran.add(stage.name)
        return summary

    def _contrastive(self, stage: Stage, source: Path) -> str:
        lock = self.clip.spec.lock_image or stage.lock_image or stage.lock_image_after in self.ran
        if lock and not self.clip.spec.lock_image:
            self.clip.model.lock_image_tower(unlocked_groups=0, freeze_bn_stats=True)
        self.clip.spec = self.clip.spec.replace(loss=stage.loss or self.clip.spec.loss, lock_image=lock)
        data = training_data(self.domain, self.clip.spec, source)
        self.data[stage.name] = data
        config = self.config.for_stage(stage.name)
        prefix = f"{stage.name}/" if self.several else ""
        callbacks = [MlflowLogger(prefix=prefix)] if self.env.is_main else []
        trainer_class = self.domain.trainer_class() or Trainer
        folder = self.out / stage.name if self.several else self.out
        trainer = trainer_class(self.clip, self.domain, data.dataset, config, folder, env=self.env, callbacks=callbacks)
        state = trainer.fit()
        if self.env.is_main:
            curve = plots.loss_curve(state.step_losses, trainer.sampler.steps_per_epoch)
            mlflow.log_figure(curve, f"plots/loss_curve{'_' + stage.name if self.several else ''}.png")
        locked = ", image trunk locked" if lock else ""
        settings = f"{config.epochs} epoch(s) of batch {config.batch_size}, loss {self.clip.spec.loss}{locked}"
        return f"{data.describe()}, {settings}"

    def _fit(self, stage: Stage, inputs: Mapping[str, Path]) -> str:
        settings = {"seed": self.config.seed, **self.config.stages.get(stage.name, {})}
        report = stage.fit(self.clip, self.domain, inputs, settings)
        mlflow.log_params({f"{stage.name}.{k}": v for k, v in report.params.items()})
        for name, values in report.curves.items():
            for step, value in enumerate(values):
                mlflow.log_metric(f"{stage.name}/{name}", value, step=step)
        self.clip.model.eval()
        return report.summary


def train(
    domain: Domain,
    spec: ModelSpec,
    inputs: Mapping[str, str | Path],
    heldout: str | Path | None = None,
    config: TrainConfig | None = None,
    output_dir: str | Path | None = None,
    register: bool = True,
    line: str | None = None,
    sensitivity: float = DEFAULT_SENSITIVITY,
) -> TrainResult:
    """Train ``spec`` through ``domain``'s stages on ``inputs`` (``"train"``: the training manifest or shards; named
    inputs for other stages), evaluate zero-shot on ``heldout``, and register the model when ``register`` (as
    ``clipzoo-<domain>``, or ``clipzoo-<domain>-<line>`` for a named line), calibrated on ``heldout`` with its
    findings' operating points at ``sensitivity``."""
    start = time.perf_counter()
    if spec.domain != domain.name:
        raise InputError(f"spec {spec.name!r} is for domain {spec.domain!r}, not {domain.name!r}")
    if TRAIN_INPUT not in inputs:
        raise InputError("no training data: give --data")
    if line is not None:
        check_line(line)
    check_sensitivity(sensitivity)
    config = config or TrainConfig()
    files = {name: Path(path) for name, path in inputs.items()}
    planned = plan_stages(domain, spec, files)
    heldout_manifest = Manifest.read(heldout) if heldout else None
    env = init_distributed()
    fingerprint = _fingerprint(spec, config, planned)
    fresh = clipzoo_home() / "checkpoints" / f"{domain.name}-{fingerprint}-{int(time.time())}"
    out = Path(output_dir) if output_dir else fresh  # give --output-dir to resume
    if env.is_main:
        _claim_output_dir(out, fingerprint)

    seed_everything(config.seed)  # the same seed gives the same initial weights, data order and augmentation
    clip = build_model(spec)
    runner = _StageRunner(clip, domain, config, out, env, several=len(planned) > 1)
    result = TrainResult(output_dir=out)
    if not env.is_main:
        for stage in planned:
            result.stages[stage.stage.name] = runner.run(stage, files)
        return result

    experiment_for(domain.name)
    run_file = out / RUN_ID_FILE
    run_id = run_file.read_text().strip() if run_file.is_file() else None
    recover_run(run_id)  # a run left RUNNING by a killed command is marked FAILED, then resumed below
    with mlflow.start_run(run_id=run_id, run_name=f"{domain.name}-{spec.name}") as run:
        run_file.write_text(run.info.run_id)
        result.run_id = run.info.run_id
        if run_id is None:
            _log_params(domain, spec, config, planned, env)
        for stage in planned:
            result.stages[stage.stage.name] = runner.run(stage, files)
        mlflow.log_dict(result.stages, "stages.json")
        result.clip = clip
        if heldout_manifest is not None:
            report = evaluate(clip, domain, heldout_manifest)
            result.metrics = report.metrics
            if register:
                _record_scope(clip, domain, files)
                data_info = _data_info(runner, result.stages, heldout_manifest, config)
                if clip.spec.extra.get("scope"):
                    data_info["training scope"] = clip.spec.extra["scope"]
                metadata = {"train_config": config.to_dict(), "data": data_info, "metrics": report.metrics}
                result.published = register_model(
                    clip,
                    domain,
                    data_info,
                    heldout_manifest,
                    report.metrics,
                    metadata,
                    line=line,
                    features=report.features,
                    sensitivity=sensitivity,
                )
    result.seconds = time.perf_counter() - start
    return result


def _log_params(domain: Domain, spec: ModelSpec, config: TrainConfig, planned: list[_PlannedStage], env) -> None:
    mlflow.log_params({f"train.{k}": v for k, v in config.to_dict().items()})
    mlflow.log_params(
        {
            "domain": domain.name,
            "spec.name": spec.name,
            "spec.vision_tower": spec.vision_tower,
            "spec.text_tower": spec.hf_text_model or "open_clip",
            "spec.lock_text": spec.lock_text,
            "spec.unlocked_text_layers": spec.unlocked_text_layers,
            "stages": ", ".join(p.stage.name for p in planned if p.source is not None),
            **{f"data.{p.stage.input}": str(p.source) for p in planned if p.source is not None},
            "world_size": env.world_size,
        }
    )
    mlflow.log_dict(spec.to_dict(), "spec.json")


def _record_scope(clip: ClipModel, domain: Domain, files: Mapping[str, Path]) -> None:
    """Put what the training inputs were (the domain's ``training_scope``) into the spec the model is saved with."""
    try:
        manifest = Manifest.read(files[TRAIN_INPUT], require_caption=False)
    except (ClipzooError, OSError, ValueError, KeyError):
        return  # WebDataset shards, say: no per-file metadata to read
    scope = domain.training_scope([str(manifest.file(row)) for row in range(len(manifest))])
    if scope:
        clip.spec = clip.spec.replace(extra={**clip.spec.extra, "scope": scope})


def _data_info(runner: _StageRunner, stages: dict[str, str], heldout: Manifest, config: TrainConfig) -> dict[str, Any]:
    info: dict[str, Any] = {}
    if len(stages) == 1:
        data = next(iter(runner.data.values()))
        info["training data"] = data.describe()
        info["epochs"] = config.epochs
        info["global batch"] = config.batch_size
    else:
        info.update({f"stage {name}": summary for name, summary in stages.items()})
    info["held-out manifest"] = f"{heldout.source} ({len(heldout)} rows)"
    return info
