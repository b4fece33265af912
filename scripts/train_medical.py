"""Train, evaluate and register a medical CLIP (`clipzoo-medical`): an optional 2D stage, then the 3D stage.

Stage 2D (RadCLIP's first stage, with --data-2d): the per-slice open_clip tower learns from 2D image-report pairs
(radiographs, single slices); --loss-2d medclip_soft keeps same-finding pairs from being negatives. Stage 3D: volumes
with reports; after a 2D stage the 2D tower is locked and only the attention slice pooling (with the text projection
and logit scale) trains. Without --data-2d, the 3D stage trains the whole tower. Both stages run through core's
train job (Trainer, MLflow runs); the 3D run evaluates held-out zero-shot (per-finding AUROC with bootstrap CI,
retrieval), logs slice-attention figures and registers the model.

python scripts/train_medical.py --data volumes.csv --heldout val.csv [--data-2d slices.csv --epochs-2d 20] [--epochs 12]
python scripts/train_medical.py --demo          # the demo data: what `clipzoo demo medical` trains
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from clipzoo.core.domain import get_domain
from clipzoo.core.spec import ModelSpec
from clipzoo.core.train import TrainConfig
from clipzoo.domains.medical.pipeline import DEMO_2D, DEMO_3D, DEMO_LOSS_2D, train_medical


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--data", help="manifest of volumes with reports (stage 3D)")
    parser.add_argument("--heldout", help="held-out manifest for zero-shot evaluation and registration")
    parser.add_argument("--data-2d", help="manifest of 2D images with captions for the first stage")
    parser.add_argument("--demo", action="store_true", help="train on the demo data (written if missing)")
    parser.add_argument("--epochs-2d", type=int, default=DEMO_2D["epochs"])
    parser.add_argument("--batch-size-2d", type=int, default=DEMO_2D["batch_size"])
    parser.add_argument("--lr-2d", type=float, default=DEMO_2D["lr"])
    parser.add_argument("--loss-2d", default=DEMO_LOSS_2D, help="loss of the 2D stage (clip, siglip, medclip_soft)")
    parser.add_argument("--loss", help="loss of the 3D stage (default: the spec's; the demo uses medclip_soft)")
    parser.add_argument("--epochs", type=int, default=DEMO_3D["epochs"])
    parser.add_argument("--batch-size", type=int, default=DEMO_3D["batch_size"])
    parser.add_argument("--lr", type=float, default=DEMO_3D["lr"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", help="model spec (default: the domain's)")
    parser.add_argument("--work-dir", help="where the stage checkpoints go (default: under CLIPZOO_HOME)")
    parser.add_argument("--no-register", action="store_true")
    args = parser.parse_args(argv)
    domain = get_domain("medical")
    if args.demo:
        from clipzoo.cli.jobs import demo_data

        demo = demo_data(domain)
        args.data, args.heldout, args.data_2d = demo.train, demo.heldout, args.data_2d or demo.extra["train2d"]
    if not args.data:
        parser.error("give --data (and --heldout), or --demo")
    spec = ModelSpec.load(args.config) if args.config else domain.default_spec()
    spec = spec.replace(loss=args.loss) if args.loss else spec
    config_2d = TrainConfig(
        **{**DEMO_2D, "epochs": args.epochs_2d, "batch_size": args.batch_size_2d, "lr": args.lr_2d}, seed=args.seed
    )
    config = TrainConfig(**{**DEMO_3D, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr})
    result = train_medical(
        args.data, args.heldout, args.data_2d, spec=spec, config_2d=config_2d, config=config,
        work_dir=args.work_dir, register=not args.no_register, loss_2d=args.loss_2d,
    )  # fmt: skip
    for key in sorted(result.metrics):
        print(f"  {key:32s} {result.metrics[key]:.4f}")
    if result.published:
        pub = result.published
        print(f"registered {pub.name} version {pub.version}" + (" -> champion" if pub.champion else ""))
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
