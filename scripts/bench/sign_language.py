"""Sign-language benchmark: pose sequences/s encoded in padded batches (with padding masks) over one at a time.

Sequences are the small demo's real .pose files (varying length: signer tempo, 25/30 fps), read and preprocessed once
by the domain (resampled to the spec's fps), then encoded by the default spec's pose tower, in eval mode:
  1. one sequence at a time ([1, T_i, 609], no padding)
  2. padded batches of --batch sequences ({"poses": [B, T_max, 609], "mask": [B, T_max]})
The batched embeddings are checked against the one-at-a-time ones (padding must not change them).

Usage: python scripts/bench/sign_language.py [--sequences 512] [--batch 64] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd
import torch
from clipzoo.core.domain import get_domain
from clipzoo.core.model import build_model


def load_sequences(domain, spec, root: Path, count: int) -> list[torch.Tensor]:
    data = domain.write_demo_data(root, small=True)
    transform = domain.transform(spec, train=False)
    tensors = []
    for manifest in (data.train, data.heldout):
        for rel in pd.read_csv(manifest)["path"]:
            tensors.append(transform(domain.read(manifest.parent / rel)))
    return (tensors * (count // len(tensors) + 1))[:count]


@torch.no_grad()
def encode(model, domain, seqs: list[torch.Tensor], batch: int) -> torch.Tensor:
    return torch.cat([model.encode_image(domain.collate(seqs[i : i + batch])) for i in range(0, len(seqs), batch)])


def timed(fn) -> tuple[float, torch.Tensor]:
    fn()  # warm-up
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    domain = get_domain("sign_language")
    spec = domain.default_spec()
    torch.manual_seed(0)
    model = build_model(spec).model.eval()
    with tempfile.TemporaryDirectory() as tmp:
        seqs = load_sequences(domain, spec, Path(tmp), args.sequences)
    lengths = torch.tensor([s.shape[0] for s in seqs], dtype=torch.float)
    print(
        f"machine: {os.cpu_count()} CPU threads, torch {torch.__version__} ({torch.get_num_threads()} threads); "
        f"model {spec.name} ({spec.vision_tower}, frame dim {seqs[0].shape[1]}); {len(seqs)} sequences of "
        f"{int(lengths.min())}-{int(lengths.max())} frames (mean {lengths.mean():.1f}) at {spec.extra['fps']} fps"
    )
    t_one, one = timed(lambda: encode(model, domain, seqs, 1))
    t_batch, batched = timed(lambda: encode(model, domain, seqs, args.batch))
    padded = sum(max(s.shape[0] for s in seqs[i : i + args.batch]) * len(seqs[i : i + args.batch])
                 for i in range(0, len(seqs), args.batch))  # fmt: skip
    diff = (one - batched).abs().max().item()
    n = len(seqs)
    print(f"one at a time        : {n / t_one:9.1f} sequences/s")
    print(f"padded batches of {args.batch:<3d}: {n / t_batch:9.1f} sequences/s "
          f"({1 - lengths.sum().item() / padded:.0%} of encoded frames are padding)")  # fmt: skip
    print(f"max |batched - one-at-a-time| embedding difference: {diff:.2e}")
    print(f"\nRATIO sequences/s padded batches / one at a time: {t_one / t_batch:5.2f}x")


if __name__ == "__main__":
    main()
