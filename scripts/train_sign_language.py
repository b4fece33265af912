"""Train, evaluate and register a sign-language (pose-sequence) CLIP: a thin wrapper over `clipzoo train sign_language`.

python scripts/train_sign_language.py --data train.csv --heldout val.csv --epochs 20
clipzoo convert sign_language asl-citizen splits/train.csv train.csv --option poses=poses/  # ASL Citizen data first
torchrun --standalone --nproc-per-node 2 scripts/train_sign_language.py --data train.csv --heldout val.csv
"""

import sys

from clipzoo.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["train", "sign_language", *sys.argv[1:]]))
