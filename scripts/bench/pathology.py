"""Pathology benchmark: tiling + encoding a slide in streamed batches vs one tile at a time; peak RSS vs slide size.

Writes synthetic pyramidal TIFF slides (tifffile, 3 levels, 0.5 um/px) of growing size, then tiles and encodes each
in a fresh process (so each peak RSS is its own) with the domain's default model (untrained weights: speed and
memory do not depend on them). Prints:
  1. tiles/s reading + encoding the same tiles of one slide (tissue planning timed apart), three ways: batches of
     --batch read ahead in a background thread (what ``clipzoo predict --task slide`` does), the same batches read
     in line, and one tile at a time; with milliseconds per tile spent reading, transforming, encoding and waiting
     for input, so it says what dominates. Best of --repeats passes after a warm-up, each on a freshly opened slide.
  2. peak RSS per slide size, and above the process baseline (model loaded, before tiling)     [flat in slide size]

On a shared machine pin the threads (``OMP_NUM_THREADS=1`` or ``--threads 1``): with more torch threads than free
cores, single-tile encoding spends its time in spinning thread pools and the ratio measures the machine's load.

Usage: python scripts/bench/pathology.py [--sizes 2048 4096 8192] [--batch 64] [--compare-tiles 192] [--threads 1]
                                         [--repeats 3] [--device cuda]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODES = {  # key: (label, batched (else one tile at a time), read ahead in a background thread)
    "ahead": ("batched, read ahead", True, True),
    "inline": ("batched, read in line", True, False),
    "single": ("one tile at a time", False, False),
}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def child(
    slide_path: str, modes: list[str], batch: int, max_tiles: int, tile_px: int, repeats: int, device: str
) -> dict:
    """Tile and encode one slide in each of ``modes``, ``repeats`` rounds with the modes interleaved (so each sees
    the same machine load), after a warm-up; the fastest pass per mode is kept. Runs in its own process."""
    import torch
    from clipzoo.core.domain import get_domain
    from clipzoo.core.model import build_model
    from clipzoo.domains.pathology.slide import Slide, open_slide
    from clipzoo.domains.pathology.slide_zeroshot import encode_slide
    from clipzoo.domains.pathology.tiling import TilePlan, plan_tiles

    torch.manual_seed(0)
    domain = get_domain("pathology")
    clip = build_model(domain.default_spec(), load_text_weights=False)
    clip.model.to(device)
    transform = domain.transform(clip.spec, train=False)

    def plan_of(slide: Slide, limit: int) -> TilePlan:
        plan = plan_tiles(slide, 0.5, tile_px)
        if not limit:
            return plan
        keep = slice(0, limit)
        return dataclasses.replace(plan, coords=plan.coords[keep], grid=plan.grid[keep], tissue=plan.tissue[keep])

    def one_pass(mode: str, limit: int) -> dict:
        _, batched, prefetch = MODES[mode]
        timings: dict[str, float] = {}
        with open_slide(slide_path) as slide:  # a fresh handle: no decoded tiles cached from an earlier pass
            start = time.perf_counter()
            plan = plan_of(slide, limit)
            planned = time.perf_counter()
            features = encode_slide(
                clip, slide, plan, transform, batch_size=batch if batched else 1, prefetch=prefetch, timings=timings
            )
            done = time.perf_counter()
        n = int(features.shape[0])
        return {
            "tiles": n,
            "skipped": plan.n_skipped,
            "plan_s": planned - start,
            "seconds": done - planned,
            "tiles_per_s": n / (done - planned),
            "ms_per_tile": {k: 1e3 * v / n for k, v in timings.items()},
        }

    for mode in modes:  # warm-up: lazy initialisation of kernels, codecs and the reader thread
        one_pass(mode, batch)
    baseline = _rss_mb()
    best: dict[str, dict] = {}
    for _ in range(repeats):
        for mode in modes:
            run = one_pass(mode, max_tiles)
            if mode not in best or run["seconds"] < best[mode]["seconds"]:
                best[mode] = run
    return {"threads": torch.get_num_threads(), "baseline_rss_mb": baseline, "peak_rss_mb": _rss_mb(), "runs": best}


def run_child(slide: Path, modes: list[str], args: argparse.Namespace, max_tiles: int, repeats: int) -> dict:
    cmd = [sys.executable, __file__, "--child", str(slide), "--modes", *modes, "--batch", str(args.batch)]
    cmd += ["--max-tiles", str(max_tiles), "--tile-px", str(args.tile_px), "--repeats", str(repeats)]
    cmd += ["--threads", str(args.threads), "--device", args.device]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def write_slide(folder: Path, side: int, tile_px: int) -> Path:
    from clipzoo.domains.pathology.demo_data import SlideLayout
    from clipzoo.domains.pathology.pyramid import write_pyramidal_tiff

    blocks = side // tile_px
    layout = SlideLayout("adenocarcinoma", blocks, blocks, tile_px, seed=side, palette=4)
    path = folder / f"slide_{side}.tif"
    write_pyramidal_tiff(path, layout.render_rows, layout.height, layout.width, mpp=0.5, levels=3)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096, 8192], help="slide sides, level-0 px")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--tile-px", type=int, default=224)
    parser.add_argument("--compare-tiles", type=int, default=192, help="tiles encoded in the batched/single comparison")
    parser.add_argument("--repeats", type=int, default=3, help="passes per comparison run; the best is reported")
    parser.add_argument("--threads", type=int, default=0, help="torch threads in each run (0: torch's default)")
    parser.add_argument("--device", default="cpu", help="where the image tower runs (cpu, cuda)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--max-tiles", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--modes", nargs="+", default=list(MODES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.child:
        result = child(args.child, args.modes, args.batch, args.max_tiles, args.tile_px, args.repeats, args.device)
        print(json.dumps(result))
        return

    import torch

    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cores} cores, load average {load:.1f}; "
        f"image tower on {args.device}; tiles {args.tile_px} px at 0.5 um/px"
    )
    with tempfile.TemporaryDirectory(prefix="clipzoo-bench-pathology-") as tmp:
        slides = {}
        for side in args.sizes:
            start = time.perf_counter()
            slides[side] = write_slide(Path(tmp), side, args.tile_px)
            mb = slides[side].stat().st_size / 2**20
            print(f"wrote {side}x{side} slide ({mb:.0f} MB on disk, {time.perf_counter() - start:.0f} s)")

        mid = slides[args.sizes[len(args.sizes) // 2]]
        compared = run_child(mid, list(MODES), args, args.compare_tiles, args.repeats)
        runs = compared["runs"]
        first = next(iter(runs.values()))
        print(
            f"\n1. reading + encoding {first['tiles']} tiles of {mid.name} ({compared['threads']} torch threads; "
            f"tissue planning {first['plan_s']:.2f} s, not counted), best of {args.repeats} interleaved rounds:"
        )
        print(f"   {'':24s} {'tiles/s':>8s}   ms/tile: {'read':>6s} {'transform':>9s} {'encode':>7s} {'wait':>6s}")
        for mode, r in runs.items():
            ms = r["ms_per_tile"]
            name, batched, _ = MODES[mode]
            label = f"{name} ({args.batch})" if batched else name
            print(
                f"   {label:24s} {r['tiles_per_s']:>8.1f}            {ms.get('read', 0):>6.2f} "
                f"{ms.get('transform', 0):>9.2f} {ms.get('encode', 0):>7.2f} {ms.get('wait', 0):>6.2f}"
            )
        single = runs["single"]["tiles_per_s"]
        for mode in ("ahead", "inline"):
            print(f"   ratio {MODES[mode][0]} / one at a time: {runs[mode]['tiles_per_s'] / single:.2f}x")
        print("   (read and transform run in the background thread when read ahead; wait is what they still cost)")

        print(f"\n2. peak RSS over slide size (whole slide tiled and encoded, batches of {args.batch}, read ahead):")
        print(
            f"   {'slide':>12s} {'raw RGB MB':>10s} {'tiles':>6s} {'skipped':>7s} {'tiles/s':>8s} "
            f"{'baseline MB':>11s} {'peak MB':>8s} {'peak-base':>9s}"
        )
        for side, path in slides.items():
            whole = run_child(path, ["ahead"], args, 0, 1)
            r = {**whole["runs"]["ahead"], **whole}
            raw = side * side * 3 / 2**20
            grown = r["peak_rss_mb"] - r["baseline_rss_mb"]
            print(
                f"   {side:>5d}x{side:<6d} {raw:>10.0f} {r['tiles']:>6d} {r['skipped']:>7d} {r['tiles_per_s']:>8.1f} "
                f"{r['baseline_rss_mb']:>11.0f} {r['peak_rss_mb']:>8.0f} {grown:>9.0f}"
            )


if __name__ == "__main__":
    main()
