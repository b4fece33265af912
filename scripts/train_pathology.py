"""Train, evaluate and register a pathology CLIP on H&E tiles: a thin wrapper over `clipzoo train pathology`.

python scripts/train_pathology.py --data train.csv --heldout val.csv --epochs 10
torchrun --standalone --nproc-per-node 2 scripts/train_pathology.py --data train.csv --heldout val.csv

Manifests have `path` (tile file) and `caption`, plus a `tissue` column for the zero-shot task; make one from
CRC-100K class folders or a Quilt/ARCH-style CSV with `clipzoo convert pathology crc100k|captions SRC OUT`. A
`slides.csv` (path, diagnosis[, mpp, tile_px]) beside the held-out manifest adds slide-level top-K zero-shot metrics.
"""

import sys

from clipzoo.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["train", "pathology", *sys.argv[1:]]))
