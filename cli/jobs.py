"""The jobs behind the CLI: train -> evaluate -> log -> register, and the end-to-end demo."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from clipzoo.core.data import Manifest, ManifestDataset, seed_everything
from clipzoo.core.distributed import init_distributed
from clipzoo.core.domain import DemoData, Domain, get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.evaluate import EvalReport, evaluate
from clipzoo.core.model import build_model
from clipzoo.core.shards import IndexedShards, is_shard_location
from clipzoo.core.spec import ModelSpec
from clipzoo.core.train import TrainConfig
from clipzoo.registry import plots
from clipzoo.registry.callbacks import MlflowLogger
from clipzoo.registry.card import model_card
from clipzoo.registry.package import library_versions, sha256_file
from clipzoo.registry.publish import Published, publish
from clipzoo.registry.runs import recover_run
from clipzoo.registry.tracking import clipzoo_home, experiment_for

log = logging.getLogger("clipzoo")

RUN_ID_FILE = "mlflow_run_id.txt"


@dataclass
class TrainJobResult:
    metrics: dict[str, float] = field(default_factory=dict)
    published: Published | None = None
    run_id: str | None = None
    output_dir: Path | None = None
    seconds: float = 0.0


def demo_data(domain: Domain, small: bool = False, seed: int = 0) -> DemoData:
    root = clipzoo_home() / "demo-data" / (f"{domain.name}-small" if small else domain.name)
    return domain.write_demo_data(root, seed=seed, small=small)


@dataclass
class TrainingData:
    """The training set (a manifest's rows, or WebDataset shards read by random access) and how to name it."""

    dataset: ManifestDataset | IndexedShards
    source: Path
    rows: int
    digest: str


def _training_data(domain: Domain, spec: ModelSpec, data: str, small: bool) -> TrainingData:
    transform = domain.transform(spec, train=True)
    if data != "demo" and is_shard_location(data):
        shards = IndexedShards(data, domain, transform)
        return TrainingData(shards, shards.source, len(shards), shards.digest())
    manifest = Manifest.read(demo_data(domain, small=small).train if data == "demo" else data)
    return TrainingData(
        ManifestDataset(manifest, domain, transform), manifest.source, len(manifest), sha256_file(manifest.source)
    )


def _heldout(domain: Domain, data: str, heldout: str | None, small: bool) -> Manifest | None:
    if heldout:
        return Manifest.read(heldout)
    return Manifest.read(demo_data(domain, small=small).heldout) if data == "demo" else None


def _config_fingerprint(spec: ModelSpec, config: TrainConfig, train: TrainingData) -> str:
    payload = json.dumps([spec.to_dict(), config.to_dict(), str(train.source)], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _check_resumable(output_dir: Path, fingerprint: str) -> None:
    marker = output_dir / "fingerprint.txt"
    if marker.is_file() and marker.read_text().strip() != fingerprint:
        raise InputError(
            "holds a checkpoint of a different run (other spec, settings or data); choose another --output-dir",
            output_dir,
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(fingerprint)


def mlflow_metric_name(name: str) -> str:
    """MLflow refuses '@' in metric names: ``R@10`` is logged as ``R_at_10``."""
    return name.replace("@", "_at_")


def _log_report(report: EvalReport, state_losses: list[float], steps_per_epoch: int) -> None:
    mlflow.log_metrics({mlflow_metric_name(f"heldout_{k}"): v for k, v in report.metrics.items() if np.isfinite(v)})
    mlflow.log_figure(plots.loss_curve(state_losses, steps_per_epoch), "plots/loss_curve.png")
    for task, (matrix, names) in report.confusion.items():
        mlflow.log_figure(plots.confusion_figure(matrix, names, f"zero-shot {task}"), f"plots/confusion_{task}.png")


def train_job(
    domain_name: str,
    data: str,
    heldout: str | None = None,
    spec_path: str | None = None,
    config: TrainConfig | None = None,
    output_dir: str | None = None,
    register: bool = True,
    small_demo: bool = False,
) -> TrainJobResult:
    """Train a domain's model on a manifest (or its demo data), evaluate zero-shot, log and register it."""
    start = time.perf_counter()
    domain = get_domain(domain_name)
    spec = ModelSpec.load(spec_path) if spec_path else domain.default_spec()
    if spec.domain != domain.name:
        raise InputError(f"spec is for domain {spec.domain!r}, not {domain.name!r}", spec_path)
    config = config or TrainConfig()
    train_data = _training_data(domain, spec, data, small_demo)
    heldout_manifest = _heldout(domain, data, heldout, small_demo)
    env = init_distributed()
    fingerprint = _config_fingerprint(spec, config, train_data)
    out = (
        Path(output_dir)
        if output_dir
        else clipzoo_home() / "checkpoints" / f"{domain.name}-{fingerprint}-{int(time.time())}"
    )
    if env.is_main:
        _check_resumable(out, fingerprint)

    seed_everything(config.seed)  # the same seed gives the same initial weights, data order and augmentation
    clip = build_model(spec)
    dataset = train_data.dataset
    result = TrainJobResult(output_dir=out)
    if not env.is_main:
        domain.trainer_class()(clip, domain, dataset, config, out, env=env).fit()
        return result

    experiment_for(domain.name)
    run_file = out / RUN_ID_FILE
    run_id = run_file.read_text().strip() if run_file.is_file() else None
    recover_run(run_id)  # a run left RUNNING by a killed command is marked FAILED, then resumed below
    with mlflow.start_run(run_id=run_id, run_name=f"{domain.name}-{spec.name}") as run:
        run_file.write_text(run.info.run_id)
        result.run_id = run.info.run_id
        if run_id is None:
            mlflow.log_params({f"train.{k}": v for k, v in config.to_dict().items()})
            mlflow.log_params(
                {
                    "domain": domain.name,
                    "spec.name": spec.name,
                    "spec.vision_tower": spec.vision_tower,
                    "spec.text_tower": spec.hf_text_model or "open_clip",
                    "spec.lock_text": spec.lock_text,
                    "spec.unlocked_text_layers": spec.unlocked_text_layers,
                    "data.train": str(train_data.source),
                    "data.train_rows": train_data.rows,
                    "world_size": env.world_size,
                }
            )
            mlflow.log_dict(spec.to_dict(), "spec.json")
        trainer = domain.trainer_class()(clip, domain, dataset, config, out, env=env, callbacks=[MlflowLogger()])
        state = trainer.fit()
        if heldout_manifest is None:
            result.seconds = time.perf_counter() - start
            return result
        report = evaluate(clip, domain, heldout_manifest)
        _log_report(report, state.step_losses, trainer.sampler.steps_per_epoch)
        result.metrics = report.metrics
        if register:
            result.published = _register(clip, domain, train_data, heldout_manifest, report, config)
    result.seconds = time.perf_counter() - start
    return result


def _register(
    clip, domain: Domain, train: TrainingData, heldout: Manifest, report: EvalReport, config: TrainConfig
) -> Published:
    data_info = {
        "training data": f"{train.source} ({train.rows} samples, sha256 {train.digest[:16]})",
        "held-out manifest": f"{heldout.source} ({len(heldout)} rows)",
        "epochs": config.epochs,
        "global batch": config.batch_size,
    }
    card = model_card(
        clip.spec,
        data_info,
        report.metrics,
        library_versions(),
        intended_use=domain.intended_use,
        limitations=domain.limitations,
    )
    example_file = heldout.file(0)
    example = {
        "inputs": {"path": [str(example_file)]},
        "params": {"labels": _example_labels(domain)},
    }
    metadata = {"train_config": config.to_dict(), "data": data_info, "metrics": report.metrics}
    return publish(clip, card, metadata, domain.primary_metric, report.metrics, example)


def _example_labels(domain: Domain) -> list[str]:
    packs = domain.prompt_packs()
    if packs:
        return list(next(iter(packs.values()))["classes"])
    return ["something", "something else"]


def demo_job(domain_name: str, args: Any) -> int:
    """Train on the domain's demo data, evaluate held-out zero-shot, register, then predict one held-out file
    with ``<registered name>@champion``."""
    from clipzoo.cli.main import _input_frame, _predict_rows, _train_config
    from clipzoo.registry.catalog import CHAMPION

    domain = get_domain(domain_name)
    custom = domain.run_demo(args)
    if custom is not None:
        return custom
    config = _train_config(args, domain.demo_train_defaults(args.small))
    print(
        f"clipzoo demo {domain.name}: writing demo data, then training {config.epochs} epoch(s) on CPU",
        flush=True,
    )
    result = train_job(
        domain.name,
        "demo",
        spec_path=args.config,
        config=config,
        output_dir=args.output_dir,
        small_demo=args.small,
    )
    print(f"\nheld-out zero-shot ({result.seconds:.0f} s of training and evaluation):")
    _print_table(result.metrics)
    pub = result.published
    if pub is None:
        return 0
    print(
        f"\nregistered {pub.name} version {pub.version}; {pub.primary_metric} = {pub.primary_value:.4f}"
        + (" -> champion" if pub.champion else " (champion kept: it scores higher)")
    )
    example = domain.demo_example(demo_data(domain, small=args.small))
    labels = _example_labels(domain)
    rows = _predict_rows(f"{pub.name}@{CHAMPION}", _input_frame([str(example)], []), {"labels": labels, "top_k": 3})
    row = rows[0]
    ranked = ", ".join(f"{lb} ({s:.3f})" for lb, s in zip(row["labels"], row["scores"], strict=True))
    print(f"\nclipzoo predict {pub.name}@{CHAMPION} {example} --labels {' '.join(labels)}")
    print(f"  -> {ranked}")
    return 0


def _print_table(metrics: dict[str, float]) -> None:
    for key in sorted(metrics):
        print(f"  {key:32s} {metrics[key]:.4f}")
