"""Two-stage training (CLIP4Cir's shape) and the fashion demo.

Stage 1 is core's contrastive training on product captions (``train_job``, nothing registered yet). Stage 2 loads
its weights, freezes CLIP and trains the Combiner on the training triplets. The model is then evaluated on the
held-out manifest (attribute zero-shot, retrieval, product search, composed retrieval Combiner vs sum) in the same
MLflow run, and registered as ``clipzoo-fashion``; the demo then saves the held-out products as a catalogue folder and
searches it through the registered model's predict path (the ``search`` task).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from clipzoo.core.checkpoint import load_checkpoint_file
from clipzoo.core.data import Manifest
from clipzoo.core.domain import Domain, get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.evaluate import encode_manifest, evaluate
from clipzoo.core.model import ClipModel, build_model
from clipzoo.core.spec import ModelSpec
from clipzoo.core.train import CHECKPOINT_NAME, TrainConfig

from .composed import CombinerConfig, train_combiner
from .search import TASK
from .triplets import read_triplets, triplets_path_for


@dataclass
class FashionTrainResult:
    metrics: dict[str, float] = field(default_factory=dict)
    combiner_losses: list[float] = field(default_factory=list)
    published: Any = None
    run_id: str | None = None
    output_dir: Path | None = None
    clip: ClipModel | None = None
    seconds: float = 0.0


def _load_stage1(spec: ModelSpec, output_dir: Path) -> ClipModel:
    ckpt = load_checkpoint_file(output_dir / CHECKPOINT_NAME)
    clip = build_model(spec)
    clip.model.load_state_dict(ckpt["model"])
    clip.model.eval()
    return clip


def _publish(clip: ClipModel, domain: Domain, train: Manifest, heldout: Manifest, metrics: dict, config, stage2):
    from clipzoo.registry.card import model_card
    from clipzoo.registry.package import library_versions, sha256_file
    from clipzoo.registry.publish import publish

    data_info = {
        "train manifest": f"{train.source} ({len(train)} rows, sha256 {sha256_file(train.source)[:16]})",
        "held-out manifest": f"{heldout.source} ({len(heldout)} rows)",
        "epochs": config.epochs,
        "global batch": config.batch_size,
        "stage 2 (Combiner, CLIP frozen)": stage2,
    }
    card = model_card(clip.spec, data_info, metrics, library_versions(), domain.intended_use, domain.limitations)
    labels = list(domain.prompt_packs()["category"]["classes"])
    example = {"inputs": {"path": [str(heldout.file(0))]}, "params": {"labels": labels}}
    metadata = {"train_config": config.to_dict(), "data": data_info, "metrics": metrics}
    return publish(clip, card, metadata, domain.primary_metric, metrics, example)


def train_fashion(
    train: str | Path,
    heldout: str | Path | None = None,
    triplets: str | Path | None = None,
    spec_path: str | None = None,
    config: TrainConfig | None = None,
    combiner_config: CombinerConfig | None = None,
    output_dir: str | None = None,
    register: bool = True,
) -> FashionTrainResult:
    """Stage 1 (contrastive, captions) then stage 2 (Combiner on ``triplets``, default ``<train>.triplets.csv``
    when it exists); evaluate on ``heldout``; register when asked and a held-out manifest was given."""
    from clipzoo.cli.jobs import mlflow_metric_name, train_job

    start = time.perf_counter()
    domain = get_domain("fashion")
    config = config or TrainConfig()
    train_manifest = Manifest.read(train)
    heldout_manifest = Manifest.read(heldout) if heldout else None
    triplet_file = Path(triplets) if triplets else triplets_path_for(train)
    if triplets and not triplet_file.is_file():
        raise InputError("triplet file not found", triplet_file)
    train_triplets = read_triplets(triplet_file, train_manifest) if triplet_file.is_file() else None

    stage1 = train_job(
        domain.name, str(train), heldout=None, spec_path=spec_path, config=config, output_dir=output_dir,
        register=False,
    )  # fmt: skip
    spec = ModelSpec.load(spec_path) if spec_path else domain.default_spec()
    clip = _load_stage1(spec, stage1.output_dir)
    result = FashionTrainResult(run_id=stage1.run_id, output_dir=stage1.output_dir, clip=clip)
    with mlflow.start_run(run_id=stage1.run_id):
        stage2 = "not trained (no triplet file); composed queries use the element-wise sum"
        if train_triplets is not None:
            combiner_config = combiner_config or CombinerConfig()
            features = encode_manifest(clip, domain, train_manifest)
            result.combiner_losses = train_combiner(clip, features, train_triplets, combiner_config)
            mlflow.log_params({f"combiner.{k}": v for k, v in asdict(combiner_config).items()})
            mlflow.log_param("combiner.triplets", f"{triplet_file} ({len(train_triplets)} rows)")
            for epoch, loss in enumerate(result.combiner_losses):
                mlflow.log_metric("combiner_loss", loss, step=epoch)
            stage2 = f"{len(train_triplets)} triplets from {triplet_file}, {combiner_config.epochs} epochs"
        if heldout_manifest is not None:
            report = evaluate(clip, domain, heldout_manifest)
            result.metrics = report.metrics
            finite = {k: v for k, v in report.metrics.items() if np.isfinite(v)}
            mlflow.log_metrics({mlflow_metric_name(f"heldout_{k}"): v for k, v in finite.items()})
            if register:
                result.published = _publish(clip, domain, train_manifest, heldout_manifest, finite, config, stage2)
    result.seconds = time.perf_counter() - start
    return result


def _print_metrics(metrics: dict[str, float]) -> None:
    groups = ("_top1", "text_to_product_", "composed_", "text_to_image_", "image_to_text_")
    for key in sorted(metrics, key=lambda k: (next((i for i, g in enumerate(groups) if g in k), 9), k)):
        print(f"  {key:36s} {metrics[key]:.4f}")


def _search_demo(clip: ClipModel, ref: str, heldout: Path, small: bool) -> Path:
    """Save the held-out products as a catalogue folder, then search it through the registered model's predict path
    (what ``clipzoo predict --task search`` and the server run): a text, an image and a composed query."""
    from clipzoo.registry.loading import load_pyfunc
    from clipzoo.registry.tracking import clipzoo_home

    from .catalogue import Catalogue

    manifest = Manifest.read(heldout)
    folder = clipzoo_home() / "catalogues" / ("fashion-demo-small" if small else "fashion-demo")
    Catalogue.build(clip, manifest, model_ref=ref).save(folder)
    products = manifest.frame.set_index("product_id")
    trip = pd.read_csv(triplets_path_for(heldout), dtype=str).iloc[0]
    reference = products.loc[trip["reference"]]
    queries = pd.DataFrame(
        {
            "path": [None, str(manifest.file(0)), str(heldout.parent / reference["path"])],
            "text": ["blue striped dress", None, trip["modification"]],
        }
    )
    rows = load_pyfunc(ref).predict(queries, params={"task": TASK, "catalogue": str(folder), "top_k": 5})

    def describe(pid: str) -> str:
        row = products.loc[pid]
        return f"{pid} ({row['colour']} {row['pattern']} {row['category']})"

    print(f"\ncatalogue search with {ref} over {len(manifest)} held-out products, catalogue folder {folder}:")
    headers = [
        f'  text "{queries["text"][0]}":',
        f"  image {describe(manifest.frame['product_id'][0])}:",
        f'  composed: {describe(trip["reference"])} + "{trip["modification"]}" ({rows["query"][2]}):',
    ]
    targets = [None, manifest.frame["product_id"][0], trip["target"]]
    for header, target, (_, row) in zip(headers, targets, rows.iterrows(), strict=True):
        print(header)
        for pid, score in zip(row["ids"], row["scores"], strict=True):
            print(f"    {describe(pid)}  {score:.3f}" + ("  <- target" if pid == target else ""))
    print(f'  (the same search: clipzoo predict {ref} --task search --catalogue {folder} --text "blue striped dress")')
    return folder


def run_demo(domain: Domain, args: Any) -> int:
    """``clipzoo demo fashion [--small]``: demo catalogue -> stage 1 -> stage 2 -> evaluate -> register -> search."""
    from clipzoo.cli.jobs import demo_data
    from clipzoo.cli.main import _train_config

    config = _train_config(args, domain.demo_train_defaults(args.small))
    demo = demo_data(domain, small=args.small)
    combiner_config = CombinerConfig(epochs=5 if args.small else 40, seed=args.seed)
    print(f"clipzoo demo fashion: stage 1 trains {config.epochs} epoch(s), stage 2 the Combiner, on CPU", flush=True)
    result = train_fashion(
        demo.train, demo.heldout, demo.extra["train_triplets"], spec_path=args.config, config=config,
        combiner_config=combiner_config, output_dir=args.output_dir,
    )  # fmt: skip
    print(f"\nheld-out metrics ({result.seconds:.0f} s of training and evaluation):")
    _print_metrics(result.metrics)
    pub = result.published
    print(
        f"\nregistered {pub.name} version {pub.version}; {pub.primary_metric} = {pub.primary_value:.4f}"
        + (" -> champion" if pub.champion else " (champion kept: it scores higher)")
    )
    _search_demo(result.clip, f"{pub.name}/{pub.version}", Path(demo.heldout), args.small)
    return 0
