"""Remote-sensing benchmark: 256 px chips from a 13-band 8192 x 8192 scene, windowed reads vs reading the scene.

Writes a tiled, deflate-compressed uint16 GeoTIFF (UTM, 10 m) block by block, then runs each reader in its own
process and prints chips/s and peak RSS:
  windowed  clipzoo's ``iter_chips``: one ``rasterio.windows.Window`` read per chip (nodata/NaN checks included)
  full      ``src.read()`` of the whole scene, then chips sliced from memory
plus the windowed reader on a scene 16x smaller in area, to show its memory does not grow with the scene.

Usage: python scripts/bench/remote_sensing.py [--size 8192] [--chip 256] [--dir /tmp] [--keep]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin
from rasterio.windows import Window

BANDS = 13
BLOCK = 256


def write_scene(path: Path, size: int, seed: int = 0) -> float:
    """A 13-band uint16 scene with smooth land-cover-like structure, written one 256 px block at a time."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": BANDS, "dtype": "uint16",
        "crs": CRS.from_epsg(32632), "transform": from_origin(300_000, 5_500_000, 10, 10), "nodata": 0,
        "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK, "compress": "deflate", "predictor": 2,
        "interleave": "pixel", "BIGTIFF": "IF_SAFER",
    }  # fmt: skip
    base = rng.uniform(300, 3000, size=BANDS).astype(np.float32)[:, None, None]
    yy, xx = np.mgrid[0:BLOCK, 0:BLOCK].astype(np.float32)
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, BLOCK):
            for col in range(0, size, BLOCK):
                phase = rng.uniform(0, 2 * np.pi, size=2)
                field = 1 + 0.3 * np.sin(xx / 23 + phase[0]) * np.cos(yy / 31 + phase[1])
                noise = rng.normal(0, 20, size=(BANDS, BLOCK, BLOCK)).astype(np.float32)
                block = np.clip(base * rng.uniform(0.6, 1.4) * field + noise, 1, 65535).astype(np.uint16)
                dst.write(block, window=Window(col, row, BLOCK, BLOCK))
    return time.perf_counter() - start


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker(mode: str, scene: Path, chip: int) -> dict:
    """Run in a fresh process: read every chip of ``scene`` one way; report time and peak RSS."""
    from clipzoo.domains.remote_sensing.raster import chip_windows, iter_chips

    baseline = peak_rss_mb()
    start = time.perf_counter()
    checksum, count = 0.0, 0
    if mode == "windowed":
        for raster in iter_chips(scene, size=chip):
            checksum += float(raster.data[:, 0, 0].sum())
            count += 1
    else:
        with rasterio.open(scene) as src:
            whole = src.read()
            windows = list(chip_windows(src.width, src.height, chip))
        for w in windows:
            data = whole[:, w.row_off : w.row_off + chip, w.col_off : w.col_off + chip].astype(np.float32)
            checksum += float(data[:, 0, 0].sum())
            count += 1
    seconds = time.perf_counter() - start
    return {"mode": mode, "chips": count, "seconds": seconds, "peak_rss_mb": peak_rss_mb(), "baseline_mb": baseline,
            "checksum": checksum}  # fmt: skip


def run_worker(mode: str, scene: Path, chip: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", mode, "--scene", str(scene), "--chip", str(chip)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=8192, help="scene width and height in pixels")
    parser.add_argument("--chip", type=int, default=256)
    parser.add_argument("--dir", default=None, help="where to write the scenes (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the scenes")
    parser.add_argument("--worker", choices=["windowed", "full"], help=argparse.SUPPRESS)
    parser.add_argument("--scene", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, Path(args.scene), args.chip)))
        return 0

    tmp = tempfile.TemporaryDirectory(prefix="clipzoo-bench-rs-", dir=args.dir)
    folder = Path(tmp.name)
    big, small = folder / f"scene-{args.size}.tif", folder / f"scene-{args.size // 4}.tif"
    print(f"writing a {BANDS}-band {args.size}x{args.size} uint16 scene ...", flush=True)
    seconds = write_scene(big, args.size)
    write_scene(small, args.size // 4, seed=1)
    raw_mb = BANDS * args.size**2 * 2 / 2**20
    print(f"  {big.stat().st_size / 2**20:.0f} MiB on disk ({raw_mb:.0f} MiB raw) in {seconds:.0f} s\n")
    results = [
        (f"windowed, {args.size} px scene", run_worker("windowed", big, args.chip)),
        (f"full read, {args.size} px scene", run_worker("full", big, args.chip)),
        (f"windowed, {args.size // 4} px scene", run_worker("windowed", small, args.chip)),
    ]
    print(f"{'reader':34s} {'chips':>6s} {'seconds':>8s} {'chips/s':>8s} {'peak RSS MiB':>13s} {'(at start)':>10s}")
    for name, r in results:
        rate = r["chips"] / r["seconds"]
        rss, base = r["peak_rss_mb"], r["baseline_mb"]
        print(f"{name:34s} {r['chips']:6d} {r['seconds']:8.1f} {rate:8.1f} {rss:13.0f} {base:10.0f}")
    win, full = results[0][1], results[1][1]
    growth = dict(zip(("win", "full", "small"), (r["peak_rss_mb"] - r["baseline_mb"] for _, r in results), strict=True))
    assert win["checksum"] == full["checksum"], "windowed and full reads disagree"
    print(
        f"\nwindowed / full: {win['chips'] / win['seconds'] / (full['chips'] / full['seconds']):.2f}x chips/s, "
        f"{growth['win'] / max(1.0, growth['full']):.3f}x RSS growth; windowed RSS growth at {args.size} px vs "
        f"{args.size // 4} px: {growth['win']:.0f} vs {growth['small']:.0f} MiB"
    )
    if args.keep:
        print(f"scenes kept in {folder}")
    else:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
