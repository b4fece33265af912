"""Medical benchmark, on this machine (targets in brackets):
  1. batched slice encoding (chunks through the 2D tower) over a per-slice loop                    [>= 3x]
  2. peak RSS encoding a 512x512x300 CT series (DICOM, read -> all slices at 224 px -> pooled)       [<= 3 GiB]
  3. volumes/s, our reader + preprocessing over bare MONAI LoadImage + Orientation + the same steps  [>= 0.9]
  4. second-epoch speed-up of reading from the persistent scan cache

The 2D tower is a small open_clip ViT at 224 px (patch 16, width 192, 4 layers): the figures measure the pipeline's
batching and memory bounds, not a production backbone (``--backbones bench,vit-b-16`` adds open_clip's ViT-B-16 to 1.).
Usage: python scripts/bench/medical.py [--slices 300] [--device cuda --only-encode]

On 1. at 224 px on a CPU: one slice is ~0.8 GFLOP of large matmuls (197 tokens x 192 wide), so a single-slice call
is already compute-bound and the per-call Python/dispatch cost batching removes is ~1% of it; batching then gains
only cache and threading efficiency (about 1.0-1.4x measured). The >= 3x target is reachable where per-call
overhead dominates: small inputs (the demo's 48 px ViT) or a GPU (kernel launches at batch 1). Measured on one
NVIDIA H200 (torch 2.11, fp32, 256 slices): bench ViT 34.3x (3.3 -> 0.1 ms/slice), ViT-B-16 9.6x (9.0 -> 0.9 ms/slice).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
from clipzoo.core.spec import ModelSpec
from clipzoo.domains.medical import MedicalDomain
from clipzoo.domains.medical.phantom import Findings, Grid, render
from clipzoo.domains.medical.writers import write_dicom_series

BENCH_TEXT = {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1}
BACKBONES = {
    # the small ViT every figure below uses
    "bench": {"image_size": 224, "layers": 4, "width": 192, "head_width": 64, "patch_size": 16},
    # open_clip's ViT-B-16 vision tower (BiomedCLIP's and RadCLIP's backbone size), random weights
    "vit-b-16": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 16},
}


def bench_spec(max_slices: int = 300, backbone: str = "bench") -> ModelSpec:
    spec = MedicalDomain().default_spec()
    scan = {**spec.extra["scan"], "max_slices": max_slices, "sampling": "all"}
    cfg = {"embed_dim": 256, "vision_cfg": BACKBONES[backbone], "text_cfg": BENCH_TEXT}
    return spec.replace(name="bench", model_cfg=cfg, image_size=224, lock_text=False, extra={"scan": scan})


def write_series(folder: Path, size: int, slices: int, seed: int = 0) -> Path:
    grid = Grid(rows=size, cols=size, slices=slices, pixel_mm=round(380 / size, 4), slice_mm=1.0)
    hu = render(grid, Findings("right", 20, 40, "upper"), np.random.default_rng(seed))
    write_dicom_series(hu, grid, folder, f"BENCH{seed}", seed=seed)
    return folder


def bench_batched(
    model, slices: int = 64, chunks: tuple[int, ...] = (8, 32), size: int = 224, device: str = "cpu", repeats: int = 3
) -> dict[str, float]:
    """Milliseconds per slice: a per-slice loop through the 2D trunk (the fair baseline: the same trunk, one call
    per slice, no transform or collate in the way) and ``encode_slices`` at each chunk size, under inference_mode.
    Every shape is warmed up first; each figure is the fastest of ``repeats`` passes (on a GPU, synchronised)."""
    tower = model.visual.eval().to(device)
    x = torch.randn(slices, 3, size, size, device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def timed(fn) -> float:
        best = float("inf")
        for _ in range(repeats):
            sync()
            start = time.perf_counter()
            fn()
            sync()
            best = min(best, (time.perf_counter() - start) * 1000 / slices)
        return best

    def per_slice() -> None:
        for i in range(slices):
            tower.trunk(x[i : i + 1])

    def batched(chunk: int):
        tower.chunk_size = chunk
        return lambda: tower.encode_slices(x)

    out = {}
    with torch.inference_mode():
        tower.trunk(x[:1])
        for chunk in chunks:
            batched(chunk)()  # warm-up of each shape
        out["loop"] = timed(per_slice)
        for chunk in chunks:
            out[f"chunk {chunk}"] = timed(batched(chunk))
    model.visual.to("cpu")
    return out


def _speedups(ms: dict[str, float]) -> str:
    best = min(v for k, v in ms.items() if k != "loop")
    parts = ", ".join(f"{k} {v:.1f} ms" for k, v in ms.items() if k != "loop")
    return f"{ms['loop'] / best:.2f}x (loop {ms['loop']:.1f} ms/slice; {parts})"


def peak_rss_kib() -> float:
    """This process's peak RSS. Linux: VmHWM (ru_maxrss carries the parent's peak across fork + exec)."""
    try:
        with open("/proc/self/status") as fh:
            return float(next(line.split()[1] for line in fh if line.startswith("VmHWM:")))
    except (OSError, StopIteration):
        return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def peak_rss_child(folder: str) -> None:
    """Run in a fresh process: read the series, transform every slice at 224 px, encode and pool; print peak RSS."""
    from clipzoo.core.model import build_model

    os.environ["CLIPZOO_MEDICAL_CACHE"] = "off"
    domain = MedicalDomain()
    spec = bench_spec()
    model = build_model(spec).model.eval()
    model.visual.chunk_size = 32
    with torch.no_grad():
        sample = domain.transform(spec, train=False)(domain.read(folder))
        emb = model.encode_image(domain.collate([sample]), normalize=True)
    rss_gib = peak_rss_kib() / 2**20
    print(json.dumps({"peak_rss_gib": rss_gib, "slices": int(sample["volume"].shape[0]), "dim": int(emb.shape[1])}))


def bench_reader(folders: list[Path], repeat: int = 2) -> tuple[float, float]:
    """Volumes/s: ours (read_scan + ScanTransform) and bare MONAI (LoadImage + Orientation + the same slicing,
    windowing and resizing done by hand)."""
    import torch.nn.functional as F
    from clipzoo.domains.medical.intensity import multi_window
    from clipzoo.domains.medical.reader import read_scan
    from monai.data import PydicomReader
    from monai.transforms import LoadImage, Orientation

    spec = bench_spec(max_slices=32).replace(image_size=64)
    ours = MedicalDomain().transform(spec, train=False)
    load = LoadImage(reader=PydicomReader(), image_only=True, ensure_channel_first=True)
    orient = Orientation(axcodes="RAS", labels=(("L", "R"), ("P", "A"), ("I", "S")))

    def bare(folder: Path) -> torch.Tensor:
        vol = orient(load(folder)).as_tensor()
        idx = torch.linspace(0, vol.shape[-1] - 1, min(32, vol.shape[-1])).round().long()
        slices = vol[..., idx].permute(3, 0, 2, 1).flip(-1, -2).float()
        slices = F.interpolate(slices, size=(64, 64), mode="bilinear", antialias=True)
        return (multi_window(slices.transpose(0, 1)).transpose(0, 1) - 0.5) / 0.25

    def rate(fn) -> float:
        fn(folders[0])
        start = time.perf_counter()
        for _ in range(repeat):
            for f in folders:
                fn(f)
        return repeat * len(folders) / (time.perf_counter() - start)

    return rate(lambda f: ours(read_scan(f))), rate(bare)


def bench_cache(folders: list[Path], cache_dir: Path) -> float:
    from clipzoo.domains.medical.cache import ScanCache
    from clipzoo.domains.medical.reader import read_scan

    cache = ScanCache(cache_dir)
    start = time.perf_counter()
    for f in folders:
        cache.get(f, read_scan)
    first = time.perf_counter() - start
    start = time.perf_counter()
    for f in folders:
        cache.get(f, read_scan)
    return first / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--volumes", type=int, default=8, help="series for the reader and cache benchmarks")
    parser.add_argument("--encode-slices", type=int, default=64, help="slices for the batched-encoding benchmark")
    parser.add_argument("--only-encode", action="store_true", help="run benchmark 1 only")
    parser.add_argument("--device", default="cpu", help="device for benchmark 1 (cpu, cuda)")
    parser.add_argument(
        "--backbones", default="bench", help=f"comma-separated 2D towers for benchmark 1, of {sorted(BACKBONES)}"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        peak_rss_child(args.child)
        return 0
    from clipzoo.core.model import build_model

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="clipzoo-bench-medical-") as tmp:
        tmp = Path(tmp)
        where = args.device if args.device != "cpu" else f"cpu, {torch.get_num_threads()} threads"
        for backbone in args.backbones.split(","):
            model = build_model(bench_spec(backbone=backbone)).model
            speed = bench_batched(model, slices=args.encode_slices, device=args.device)
            print(
                f"1. batched slice encoding over a per-slice loop ({where}), {backbone} ViT at 224 px: "
                f"{_speedups(speed)}  [target >= 3x]",
                flush=True,
            )
        demo = build_model(MedicalDomain().default_spec()).model
        demo_speed = bench_batched(demo, slices=256, chunks=(64, 256), size=48, device=args.device)
        print(f"1. same, demo ViT at 48 px ({where}): {_speedups(demo_speed)}  [target >= 3x]", flush=True)
        if args.only_encode:
            return 0

        big = write_series(tmp / "ct512", 512, args.slices)
        out = subprocess.run([sys.executable, __file__, "--child", str(big)], capture_output=True, text=True)
        if out.returncode:
            print(out.stderr[-2000:])
            return 1
        rss = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"2. peak RSS, 512x512x{args.slices} CT series -> {rss['slices']} slices at 224 px -> one embedding: "
            f"{rss['peak_rss_gib']:.2f} GiB  [target <= 3 GiB]",
            flush=True,
        )

        folders = [write_series(tmp / f"s{i}", 256, 48, seed=i) for i in range(args.volumes)]
        ours, bare = bench_reader(folders)
        print(
            f"3. volumes/s (256x256x48 DICOM series): ours {ours:.2f}, bare MONAI {bare:.2f}, "
            f"ratio {ours / bare:.2f}  [target >= 0.9]",
            flush=True,
        )
        print(f"4. second-epoch read speed-up from the persistent cache: {bench_cache(folders, tmp / 'cache'):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
