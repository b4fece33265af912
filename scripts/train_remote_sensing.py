"""Train, evaluate and register a Sentinel-1/2 CLIP (one encoder per sensor, aligned through text, plus the GeoCLOSP
location term when the spec has a location encoder): a thin wrapper over `clipzoo train remote_sensing`.

clipzoo convert remote_sensing bigearthnet BigEarthNet/ train.csv    # users' data -> manifest
python scripts/train_remote_sensing.py --data train.csv --heldout val.csv --epochs 10
torchrun --standalone --nproc-per-node 2 scripts/train_remote_sensing.py --data train.csv --heldout val.csv
"""

import sys

from clipzoo.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["train", "remote_sensing", *sys.argv[1:]]))
