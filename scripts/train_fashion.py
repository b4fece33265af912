"""Train a fashion CLIP in its two stages (contrastive on product captions, then the CLIP4Cir Combiner on triplets),
evaluate it and register it: `clipzoo train fashion` with the fashion options spelled out.

python scripts/train_fashion.py --data train.csv --heldout val.csv [--triplets train.triplets.csv] --epochs 10
    (--triplets defaults to <stem>.triplets.csv beside --data; the held-out triplets are <heldout stem>.triplets.csv)
python scripts/train_fashion.py --data demo [--small]      # the demo catalogue, as `clipzoo demo fashion` trains it

Then index a catalogue with the registered model and search it (text, image, or image + modification text):
clipzoo catalogue build clipzoo-fashion/3 products.csv products-index/
clipzoo predict clipzoo-fashion/3 [shirt.jpg] [--text "in blue"] --task search --catalogue products-index/ --top-k 10
"""

import argparse
import sys

from clipzoo.cli.main import main


def run(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--triplets", help="training triplets for the Combiner (reference, modification, target)")
    p.add_argument("--combiner-epochs", type=int, help="epochs of the Combiner stage (default 40)")
    p.add_argument("--combiner-lr", type=float, help="learning rate of the Combiner stage (default 1e-3)")
    args, rest = p.parse_known_args(argv)
    extra = []
    if args.triplets:
        extra += ["--input", f"train_triplets={args.triplets}"]
    if args.combiner_epochs is not None:
        extra += ["--stage", f"combiner.epochs={args.combiner_epochs}"]
    if args.combiner_lr is not None:
        extra += ["--stage", f"combiner.lr={args.combiner_lr}"]
    return main(["train", "fashion", *rest, *extra])


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
