"""Train, evaluate and register an image-domain CLIP: a thin wrapper over `clipzoo train image`.

python scripts/train_image.py --data train.csv --heldout val.csv --epochs 10
torchrun --standalone --nproc-per-node 2 scripts/train_image.py --data train.csv --heldout val.csv
"""

import sys

from clipzoo.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["train", "image", *sys.argv[1:]]))
