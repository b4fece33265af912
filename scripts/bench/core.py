"""Core benchmark: clipzoo against bare open_clip on the same model and batches, on this machine.

Prints three ratios (targets in brackets):
  1. training samples/s, clipzoo Trainer.train_step over a bare open_clip loop       [>= 0.95]
  2. training speed-up from caching a locked (LiT) text tower                         [>= 2x]
  3. `clipzoo predict` path images/s over a bare read + preprocess + encode_image loop [>= 0.9]

Each ratio is the median over ``--rounds`` rounds in which the two sides run back to back, so that load from other
processes (a shared CI machine) hits both sides alike; the spread across rounds is printed with it.

Usage: python scripts/bench/core.py [--steps 20] [--batch 64] [--images 512] [--rounds 3] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd
import torch
import transformers
from clipzoo.core.data import Manifest, ManifestDataset, collate_with
from clipzoo.core.domain import get_domain
from clipzoo.core.model import build_model
from clipzoo.core.predict import InputItem, Predictor
from clipzoo.core.text_cache import LockedTextCache
from clipzoo.core.train import TrainConfig, Trainer
from open_clip.loss import ClipLoss


def batches(domain, spec, manifest: Manifest, batch: int, count: int):
    ds = ManifestDataset(manifest, domain, domain.transform(spec, train=False))
    collate = collate_with(domain)
    return [collate([ds[(i * batch + j) % len(ds)] for j in range(batch)]) for i in range(count)]


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def paired_ratio(base: Callable[[], None], ours: Callable[[], None], rounds: int) -> tuple[float, ...]:
    """Median, min and max over rounds of time(base) / time(ours), then the median times; one warm-up each first."""
    base(), ours()
    ratios, t_base, t_ours = [], [], []
    for _ in range(rounds):
        t_base.append(timed(base))
        t_ours.append(timed(ours))
        ratios.append(t_base[-1] / t_ours[-1])
    return statistics.median(ratios), min(ratios), max(ratios), statistics.median(t_base), statistics.median(t_ours)


def bench_training(domain, spec, data, steps: int, batch: int, out: Path, rounds: int) -> tuple:
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

    *ratio, t_bare, t_zoo = paired_ratio(bare_epoch, zoo_epoch, rounds)
    n = steps * batch
    print(f"training: bare open_clip {n / t_bare:8.1f} samples/s | clipzoo {n / t_zoo:8.1f} samples/s")
    return tuple(ratio)


def bench_text_cache(domain, spec, data, steps: int, batch: int, out: Path, rounds: int) -> tuple:
    """Training samples/s with the locked text tower cached over uncached (after the warm-up epoch every caption
    of the epoch is cached, as from the second epoch on in a real run)."""
    spec = spec.replace(lock_text=True)
    work = batches(domain, spec, Manifest.read(data.train), batch, steps)
    epochs = {}
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

        epochs[cached] = epoch
    *ratio, t_plain, t_cached = paired_ratio(epochs[False], epochs[True], rounds)
    n = steps * batch
    print(f"locked text: uncached {n / t_plain:8.1f} samples/s | cached {n / t_cached:8.1f} samples/s")
    # What the cache can remove at most: the text side of a step. Time it alone, and the image side alone.
    clip = build_model(spec)
    cache = LockedTextCache(clip.model, clip.tokenize)

    @torch.no_grad()
    def text_tower():
        for b in work:
            clip.model.encode_text(clip.tokenize(b["caption"]))

    def text_cached():
        for b in work:
            cache.head(cache.trunk_features(b["caption"], torch.device("cpu")))

    def image_side():
        for b in work:
            clip.model.encode_image(b["input"]).sum().backward()

    text_ratio, *_ = paired_ratio(text_tower, text_cached, rounds)
    t_image = statistics.median(timed(image_side) for _ in range(rounds))
    print(
        f"locked text: text features {text_ratio:.0f}x faster from the cache; the image side alone (forward + "
        f"backward) runs {n / t_image:.1f} samples/s, so no text cache can beat {t_plain / t_image:.2f}x here"
    )
    return tuple(ratio)


def bench_predict(domain, spec, data, images: int, batch: int, rounds: int) -> tuple:
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

    *ratio, t_bare, t_zoo = paired_ratio(bare, zoo, rounds)
    print(f"predict: bare encode_image {images / t_bare:8.1f} img/s | clipzoo predict {images / t_zoo:8.1f} img/s")
    return tuple(ratio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    domain = get_domain("image")
    spec = domain.default_spec()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        data = domain.write_demo_data(out / "data", small=False)
        print(
            f"machine: {os.cpu_count()} CPUs, {args.threads} torch threads, load {os.getloadavg()[0]:.1f}, "
            f"torch {torch.__version__}; model {spec.name}; batch {args.batch}, {args.rounds} rounds"
        )
        r1 = bench_training(domain, spec, data, args.steps, args.batch, out, args.rounds)
        r2 = bench_text_cache(domain, spec, data, args.steps, args.batch, out, args.rounds)
        r3 = bench_predict(domain, spec, data, args.images, args.batch, args.rounds)
    print()
    for label, (med, lo, hi), target in [
        ("training samples/s clipzoo / bare open_clip", r1, ">= 0.95"),
        ("locked text tower cached / uncached        ", r2, ">= 2x"),
        ("predict images/s clipzoo / bare encode     ", r3, ">= 0.9"),
    ]:
        print(f"RATIO {label}: {med:5.2f}  [rounds {lo:.2f}..{hi:.2f}]  (target {target})")


if __name__ == "__main__":
    main()
