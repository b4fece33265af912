"""Train a fashion CLIP in two stages (captions, then the Combiner on triplets), evaluate it and register it.

python scripts/train_fashion.py --data train.csv --heldout val.csv --triplets train.triplets.csv --epochs 10
    (--triplets defaults to train.triplets.csv beside --data; the held-out triplets are val.triplets.csv)
python scripts/train_fashion.py --data demo [--small]      # the demo catalogue

Then index a catalogue with the registered model and search it (text, image, or image + modification text):
python -m clipzoo.domains.fashion.catalogue build clipzoo-fashion/3 products.csv products-index/
clipzoo predict clipzoo-fashion/3 [shirt.jpg] [--text "in blue"] --task search --catalogue products-index/ --top-k 10
"""

import argparse
import sys

from clipzoo.core.errors import ClipzooError
from clipzoo.core.train import TrainConfig
from clipzoo.domains.fashion.composed import CombinerConfig
from clipzoo.domains.fashion.pipeline import train_fashion


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="training manifest with product_id, path, caption; or 'demo'")
    p.add_argument("--heldout", help="held-out manifest (its <stem>.triplets.csv gives composed queries)")
    p.add_argument("--triplets", help="training triplets for the Combiner (reference, modification, target)")
    p.add_argument("--config", help="model spec (JSON/YAML); default: the fashion domain's")
    p.add_argument("--small", action="store_true", help="with --data demo: the tiny catalogue")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup-steps", type=int, default=20)
    p.add_argument("--combiner-epochs", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output-dir", help="checkpoint folder; an existing one is resumed")
    p.add_argument("--no-register", action="store_true")
    args = p.parse_args(argv)
    from clipzoo.registry.tracking import configure

    configure()
    try:
        data, heldout, triplets = args.data, args.heldout, args.triplets
        if data == "demo":
            from clipzoo.cli.jobs import demo_data
            from clipzoo.core.domain import get_domain

            demo = demo_data(get_domain("fashion"), small=args.small)
            data, heldout, triplets = demo.train, heldout or demo.heldout, triplets or demo.extra["train_triplets"]
        config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             warmup_steps=args.warmup_steps, seed=args.seed)  # fmt: skip
        result = train_fashion(
            data, heldout, triplets, spec_path=args.config, config=config,
            combiner_config=CombinerConfig(epochs=args.combiner_epochs, seed=args.seed),
            output_dir=args.output_dir, register=not args.no_register,
        )  # fmt: skip
    except ClipzooError as err:
        print(f"clipzoo: error: {err}", file=sys.stderr)
        return 2
    print(f"run {result.run_id} ({result.seconds:.0f} s); checkpoints in {result.output_dir}")
    for key in sorted(result.metrics):
        print(f"  {key:36s} {result.metrics[key]:.4f}")
    if result.published:
        print(f"registered {result.published.name} version {result.published.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
