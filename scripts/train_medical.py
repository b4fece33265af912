"""Train, evaluate and register a medical CLIP in RadCLIP's two stages: `clipzoo train medical` with the medical
options spelled out.

Stage 2d (with --data-2d): the per-slice open_clip tower learns from 2D image-report pairs (axial slices,
radiographs). Stage 3d: volumes with reports; after stage 2d the 2D trunk is locked and only the attention slice
pooling (with the text projection and logit scale) trains; without --data-2d the 3d stage trains the whole tower.
The spec's loss (default medclip_soft: same-finding reports are not negatives) serves both stages; the 3d run
evaluates held-out zero-shot (per-finding AUROC with bootstrap CI, retrieval), logs slice-attention figures and
registers the model.

python scripts/train_medical.py --data volumes.csv --heldout val.csv [--data-2d slices.csv --epochs-2d 20] [--epochs 12]
python scripts/train_medical.py --data demo          # the demo data: what `clipzoo demo medical` trains
torchrun --standalone --nproc-per-node 2 scripts/train_medical.py --data volumes.csv --data-2d slices.csv ...
"""

import argparse
import sys

from clipzoo.cli.main import main


def run(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-2d", help="manifest of 2D images with captions for stage 2d")
    p.add_argument("--epochs-2d", type=int, help="epochs of stage 2d (default: --epochs)")
    p.add_argument("--batch-size-2d", type=int, help="global batch of stage 2d (default: --batch-size)")
    p.add_argument("--lr-2d", type=float, help="learning rate of stage 2d (default: --lr)")
    args, rest = p.parse_known_args(argv)
    extra = ["--input", f"train2d={args.data_2d}"] if args.data_2d else []
    for key, value in (("epochs", args.epochs_2d), ("batch_size", args.batch_size_2d), ("lr", args.lr_2d)):
        if value is not None:
            extra += ["--stage", f"2d.{key}={value}"]
    return main(["train", "medical", *rest, *extra])


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
