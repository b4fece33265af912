"""RadCLIP's two stages through core's ``train_job`` (its Trainer, MLflow runs and registration), and the demo.

Stage 2D trains the whole model on 2D image-caption pairs (axial slices, radiographs); its weights are saved as
safetensors. Stage 3D starts from them with the 2D trunk locked (``lock_image``: only the attention slice pooling, the
text projection and the logit scale train) on volumes with reports, evaluates held-out zero-shot and registers
``clipzoo-medical``. The stage-3D run also gets slice-attention figures of held-out volumes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from clipzoo.core.checkpoint import load_checkpoint_file
from clipzoo.core.data import Manifest
from clipzoo.core.domain import get_domain
from clipzoo.core.model import ClipModel, build_model, save_weights
from clipzoo.core.spec import ModelSpec
from clipzoo.core.train import CHECKPOINT_NAME, TrainConfig

from .attention import attention_figure, volume_attention

STAGE_2D, STAGE_3D = "stage-2d", "stage-3d"
DEMO_2D = {"epochs": 20, "batch_size": 64, "warmup_steps": 20, "lr": 2e-3, "weight_decay": 0.05}
# Slice captions repeat (most slices show nothing) and many reports share findings: MedCLIP's soft targets keep
# same-finding pairs from being negatives, in both stages of the (single-process) demo.
DEMO_LOSS_2D = DEMO_LOSS_3D = "medclip_soft"
DEMO_3D = {"epochs": 12, "batch_size": 32, "warmup_steps": 10, "lr": 2e-3, "weight_decay": 0.05}
SMALL = {"epochs": 1, "batch_size": 8, "warmup_steps": 1, "lr": 1e-3}


@dataclass
class MedicalTrainResult:
    metrics: dict[str, float] = field(default_factory=dict)
    published: Any = None
    run_id: str | None = None
    run_id_2d: str | None = None
    weights_2d: Path | None = None
    attention: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def load_trained(spec: ModelSpec, output_dir: Path) -> ClipModel:
    """The model of a finished ``train_job`` from its last checkpoint."""
    clip = build_model(spec.replace(pretrained=None), load_text_weights=False)
    clip.model.load_state_dict(load_checkpoint_file(output_dir / CHECKPOINT_NAME)["model"])
    clip.model.eval()
    return clip


def train_medical(
    train: str | Path,
    heldout: str | Path | None = None,
    train_2d: str | Path | None = None,
    spec: ModelSpec | None = None,
    config_2d: TrainConfig | None = None,
    config: TrainConfig | None = None,
    work_dir: str | Path | None = None,
    register: bool = True,
    attention_cases: int = 2,
    loss_2d: str | None = None,
    attention_files: tuple[str | Path, ...] = (),
) -> MedicalTrainResult:
    """Stage 2D on ``train_2d`` (skipped when None; its loss ``loss_2d``, default the spec's), then stage 3D on
    ``train``; evaluate on ``heldout``, register. Slice-attention figures of the first ``attention_cases`` held-out
    volumes and of ``attention_files`` go into the 3D run."""
    from clipzoo.cli.jobs import train_job
    from clipzoo.registry.tracking import clipzoo_home

    start = time.perf_counter()
    domain = get_domain("medical")
    spec = spec or domain.default_spec()
    work = Path(work_dir) if work_dir else clipzoo_home() / "checkpoints" / f"medical-{int(time.time())}"
    work.mkdir(parents=True, exist_ok=True)
    result = MedicalTrainResult()
    if train_2d is not None:
        stage_2d = spec.replace(name=f"{spec.name}-2d", lock_image=False, loss=loss_2d or spec.loss)
        spec_2d = stage_2d.save(work / "spec-2d.json")
        stage = train_job(
            domain.name, str(train_2d), spec_path=str(spec_2d), config=config_2d or TrainConfig(),
            output_dir=str(work / STAGE_2D), register=False,
        )  # fmt: skip
        result.run_id_2d = stage.run_id
        result.weights_2d = save_weights(load_trained(spec, work / STAGE_2D).model, work / "stage-2d.safetensors")
        spec = spec.replace(pretrained=str(result.weights_2d), lock_image=True)
    spec_3d = spec.save(work / "spec-3d.json")
    stage = train_job(
        domain.name, str(train), heldout=str(heldout) if heldout else None, spec_path=str(spec_3d),
        config=config or TrainConfig(), output_dir=str(work / STAGE_3D), register=register and heldout is not None,
    )  # fmt: skip
    result.metrics, result.published, result.run_id = stage.metrics, stage.published, stage.run_id
    if heldout is not None and stage.run_id:
        clip = load_trained(spec, work / STAGE_3D)
        with mlflow.start_run(run_id=stage.run_id):
            if result.run_id_2d:
                mlflow.set_tag("clipzoo.stage_2d_run", result.run_id_2d)
            result.attention = log_attention(clip, domain, Manifest.read(heldout), attention_cases)
            for path in attention_files:
                att = volume_attention(clip, domain, path)
                name = Path(path).name.split(".")[0]
                mlflow.log_figure(attention_figure(att, f"{name} ({path})"), f"plots/slice_attention_{name}.png")
                result.attention[name] = att
    result.seconds = time.perf_counter() - start
    return result


def log_attention(clip: ClipModel, domain: Any, manifest: Manifest, cases: int) -> dict[str, Any]:
    """Slice-attention figures of the first held-out volumes (nodule cases first) into the active run."""
    frame = manifest.frame
    order = frame.sort_values("nodule", ascending=False, kind="stable").index if "nodule" in frame else frame.index
    found = {}
    for row in list(order)[:cases]:
        att = volume_attention(clip, domain, manifest.file(row))
        name = Path(str(frame.loc[row, "path"])).name.split(".")[0]
        title = f"{name}: {str(frame.loc[row, 'caption'])[:56]}..."
        mlflow.log_figure(attention_figure(att, title), f"plots/slice_attention_{name}.png")
        found[name] = att
    return found


def _print_findings(metrics: dict[str, float]) -> None:
    findings = sorted(k.removesuffix("_auroc") for k in metrics if k.endswith("_auroc") and k != "findings_mean_auroc")
    print("  finding        AUROC   95% bootstrap CI")
    for f in findings:
        low, high = metrics[f"{f}_auroc_ci_low"], metrics[f"{f}_auroc_ci_high"]
        print(f"  {f:13s}  {metrics[f'{f}_auroc']:.3f}   [{low:.3f}, {high:.3f}]")
    print(f"  {'mean':13s}  {metrics.get('findings_mean_auroc', float('nan')):.3f}")
    rest = [k for k in sorted(metrics) if not any(k.startswith(f"{f}_auroc") for f in findings)]
    for key in rest:
        print(f"  {key:32s} {metrics[key]:.4f}")


def run_demo(domain: Any, args: Any) -> int:
    """``clipzoo demo medical [--small]``: demo data -> 2D stage (slices) -> 3D stage (volumes, 2D tower locked)
    -> held-out zero-shot -> register -> predict (with slice attention) on pydicom's real CT5N series."""
    from clipzoo.cli.jobs import demo_data
    from clipzoo.cli.main import _train_config
    from clipzoo.registry.catalog import CHAMPION
    from clipzoo.registry.loading import load_pyfunc

    config = _train_config(args, SMALL if args.small else DEMO_3D)
    config_2d = TrainConfig(
        **(SMALL if args.small else DEMO_2D), seed=args.seed, num_workers=args.workers,
        checkpoint_every=args.checkpoint_every,
    )  # fmt: skip
    spec = ModelSpec.load(args.config) if args.config else domain.default_spec().replace(loss=DEMO_LOSS_3D)
    print(
        f"clipzoo demo medical: writing demo data; stage 2D trains {config_2d.epochs} epoch(s) on axial slices, "
        f"stage 3D {config.epochs} epoch(s) of slice pooling on volumes (2D tower locked), on CPU",
        flush=True,
    )
    demo = demo_data(domain, small=args.small)
    example = domain.demo_example(demo)
    work = Path(args.output_dir) if args.output_dir else None
    result = train_medical(
        demo.train, demo.heldout, demo.extra["train2d"], spec=spec, config_2d=config_2d, config=config, work_dir=work,
        loss_2d=DEMO_LOSS_2D, attention_files=(example,),
    )  # fmt: skip
    print(f"\nheld-out zero-shot, prompts absent from the reports ({result.seconds:.0f} s of training and evaluation):")
    _print_findings(result.metrics)
    pub = result.published
    print(
        f"\nregistered {pub.name} version {pub.version}; {pub.primary_metric} = {pub.primary_value:.4f}"
        + (" -> champion" if pub.champion else " (champion kept: it scores higher)")
    )
    ref = f"{pub.name}@{CHAMPION}" if pub.champion else f"{pub.name}/{pub.version}"
    labels = ["lung nodule", "pleural effusion", "normal chest"]
    params = {"labels": labels, "top_k": 3, "task": "attention"}
    row = load_pyfunc(ref).predict(pd.DataFrame({"path": [str(example)]}), params=params).to_dict("records")[0]
    ranked = ", ".join(f"{lb} ({s:.3f})" for lb, s in zip(row["labels"], row["scores"], strict=True))
    print(f"\nclipzoo predict {ref} {example} --task attention --labels {' '.join(labels)}")
    print(f"  -> {ranked}")
    print(f"  slice attention: {row.get('slice_attention')}")
    print(f"  (figures: plots/slice_attention_*.png in MLflow run {result.run_id})")
    return 0
