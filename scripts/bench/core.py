"""Core benchmark: clipzoo against bare open_clip on the same model and batches, on this machine.

Prints three ratios (targets in brackets):
  1. training samples/s, clipzoo Trainer.train_step over a bare open_clip loop       [>= 0.95]
  2. training speed-up from caching a locked (LiT) text tower                         [>= 2x]
  3. `clipzoo predict` path images/s over a bare read + preprocess + encode_image loop [>= 0.9]

Usage: python scripts/bench/core.py [--steps 20] [--batch 64] [--images 256]
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
from clipzoo.core.data import Manifest, ManifestDataset, collate_with
from clipzoo.core.domain import get_domain
from clipzoo.core.model import build_model
from clipzoo.core.predict import InputItem, Predictor
from clipzoo.core.train import TrainConfig, Trainer
from open_clip.loss import ClipLoss


def batches(domain, spec, manifest: Manifest, batch: int, count: int):
    ds = ManifestDataset(manifest, domain, domain.transform(spec, train=False))
    collate = collate_with(domain)
    return [collate([ds[(i * batch + j) % len(ds)] for j in range(batch)]) for i in range(count)]


def timed(fn, repeat: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return time.perf_counter() - start


def bench_training(domain, spec, data, steps: int, batch: int, out: Path) -> float:
    """Samples/s ratio clipzoo / bare open_clip, unlocked towers, identical model config, seed and batches."""
    spec = spec.replace(lock_text=False)
    torch.manual_seed(0)
    clip = build_model(spec)
    cfg = TrainConfig(batch_size=batch, epochs=1, warmup_steps=1)
    dataset = ManifestDataset(Manifest.read(data.train), domain, domain.transform(spec, train=True))
    trainer = Trainer(clip, domain, dataset, cfg, out / "zoo")
    trainer._set_train_mode()
    work = batches(domain, spec, Manifest.read(data.train), batch, steps)

    torch.manual_seed(0)
    bare = build_model(spec).model  # same open_clip model, then a loop as in open_clip's README
    bare.train()
    bare_opt = torch.optim.AdamW([p for p in bare.parameters() if p.requires_grad], lr=cfg.lr)
    loss_fn = ClipLoss()
    tokens = [clip.tokenize(b["caption"]) for b in work]

    def bare_epoch():
        for b, t in zip(work, tokens, strict=True):
            bare_opt.zero_grad()
            img, txt, scale = bare(b["input"], t)
            loss_fn(img, txt, scale).backward()
            bare_opt.step()

    def zoo_epoch():
        for b in work:
            trainer.train_step(b["input"], b["caption"])

    t_bare = timed(bare_epoch, 1)
    t_zoo = timed(zoo_epoch, 1)
    n = steps * batch
    print(f"training: bare open_clip {n / t_bare:8.1f} samples/s | clipzoo {n / t_zoo:8.1f} samples/s")
    return t_bare / t_zoo


def bench_text_cache(domain, spec, data, steps: int, batch: int, out: Path) -> float:
    """Steps/s with the locked text tower cached over uncached (second pass: captions already seen)."""
    spec = spec.replace(lock_text=True)
    work = batches(domain, spec, Manifest.read(data.train), batch, steps)
    results = {}
    for cached in (False, True):
        torch.manual_seed(0)
        clip = build_model(spec)
        cfg = TrainConfig(batch_size=batch, epochs=1, warmup_steps=1, cache_locked_text=cached)
        dataset = ManifestDataset(Manifest.read(data.train), domain, domain.transform(spec, train=True))
        trainer = Trainer(clip, domain, dataset, cfg, out / f"cache-{cached}")
        trainer._set_train_mode()

        def epoch(tr=trainer):
            for b in work:
                tr.train_step(b["input"], b["caption"])

        results[cached] = timed(epoch, 1)
    n = steps * batch
    print(f"locked text: uncached {n / results[False]:8.1f} samples/s | cached {n / results[True]:8.1f} samples/s")
    return results[False] / results[True]


def bench_predict(domain, spec, data, images: int, batch: int) -> float:
    """Images/s of the shared predict path over a bare read + preprocess + encode_image loop."""
    torch.manual_seed(0)
    clip = build_model(spec)
    clip.model.eval()
    frame = pd.read_csv(data.heldout)
    files = [str(Path(data.heldout).parent / p) for p in frame["path"]][:images]
    files = (files * (images // len(files) + 1))[:images]
    predictor = Predictor(clip, domain, batch_size=batch)
    labels = ["circle", "square", "triangle", "star", "cross", "ring"]
    transform = domain.transform(spec, train=False)

    @torch.no_grad()
    def bare():
        from PIL import Image

        for i in range(0, len(files), batch):
            x = torch.stack([transform(Image.open(f).convert("RGB")) for f in files[i : i + batch]])
            clip.model.encode_image(x, normalize=True)

    def zoo():
        predictor.predict([InputItem.from_path(f) for f in files], labels=labels)

    t_bare, t_zoo = timed(bare, 1), timed(zoo, 1)
    print(f"predict: bare encode_image {images / t_bare:8.1f} img/s | clipzoo predict {images / t_zoo:8.1f} img/s")
    return t_bare / t_zoo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--images", type=int, default=512)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    domain = get_domain("image")
    spec = domain.default_spec()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        data = domain.write_demo_data(out / "data", small=False)
        print(f"machine: {os.cpu_count()} CPU threads, torch {torch.__version__}; model {spec.name}")
        r1 = bench_training(domain, spec, data, args.steps, args.batch, out)
        r2 = bench_text_cache(domain, spec, data, args.steps, args.batch, out)
        r3 = bench_predict(domain, spec, data, args.images, args.batch)
    print()
    print(f"RATIO training samples/s clipzoo / bare open_clip : {r1:5.2f}   (target >= 0.95)")
    print(f"RATIO locked text tower cached / uncached        : {r2:5.2f}x  (target >= 2x)")
    print(f"RATIO predict images/s clipzoo / bare encode     : {r3:5.2f}   (target >= 0.9)")


if __name__ == "__main__":
    main()
