"""Past one machine, measured in one run:

1. ``clipzoo embed --engine spark`` (Spark local[N], ``mapInPandas`` over the registered pyfunc) against the
   single-process job on the same manifest: embeddings/s of each and their ratio (target >= 0.8). The Spark session
   is started before the clock (a cluster is up already). "cold": the Python workers start and load the model
   within the job; "warm": a second job on the same reused workers (the model loaded once per worker).
2. ``--task slide`` from stored HDF5 features (``clipzoo embed --task slide``) against from pixels, on one demo slide
   of --slide-blocks 64-px blocks: seconds per slide and the speed-up (target >= 20x); both answers must agree.
3. faiss IVF and HNSW on --vectors clustered 256-d unit embeddings (a Gaussian mixture: Zipf-sized clusters around
   random centres, cosine ~0.78 to the centre; the noise's spectrum decays as a power law like real embeddings, or
   --spectrum isotropic, the worst case) against exact search: recall@10 and queries/s for each nprobe /
   efSearch (target: recall >= 0.95 at >= 10x the exact queries/s).

The models are the registered ``clipzoo-image@champion`` and ``clipzoo-pathology@champion`` of this clipzoo home
(small demo models are trained when absent).

Usage: python scripts/bench/scale.py [--rows 2000] [--workers 2] [--slide-blocks 40] [--vectors 1000000] [--skip ...]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import faiss
import numpy as np
import pandas as pd
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import ClipzooError
from clipzoo.domains.fashion.index import IndexParams, ProductIndex, recall_against
from clipzoo.pipeline.data import demo_data
from clipzoo.pipeline.demo import demo
from clipzoo.pipeline.embed import embed, embed_features
from clipzoo.registry.catalog import resolve
from clipzoo.registry.loading import load_pyfunc
from clipzoo.registry.tracking import configure


def demo_model(domain: str) -> str:
    """The domain's registered champion (pinned), or a small demo model trained now."""
    try:
        ref = resolve(f"clipzoo-{domain}@champion")
        return f"{ref.name}/{ref.version}"
    except ClipzooError:
        result = demo(get_domain(domain), small=True).result.published
        return f"{result.name}/{result.version}"


def bench_spark(rows: int, workers: int, folder: Path) -> None:
    from clipzoo.pipeline.embed_spark import spark_session

    model = demo_model("image")
    heldout = demo_data(get_domain("image"), small=True).heldout
    frame = pd.read_csv(heldout)
    frame = frame.assign(path=[str(heldout.parent / p) for p in frame["path"]])
    manifest = folder / "rows.csv"
    pd.concat([frame] * (rows // len(frame) + 1)).head(rows)[["path"]].to_csv(manifest, index=False)
    per_file = max(1, rows // (4 * workers))
    spark_session(f"local[{workers}]")  # started before the clock: a cluster is up already
    timings = {}
    # spark cold: each Python worker starts and loads the model; warm: the same reused workers, model loaded
    for run, engine in (("local", "local"), ("spark cold", "spark"), ("spark warm", "spark")):
        out = folder / f"emb-{run.replace(' ', '-')}"
        start = time.perf_counter()
        embed(model, manifest, out, engine=engine, rows_per_file=per_file, master=f"local[{workers}]")
        timings[run] = time.perf_counter() - start
    a, b = (np.stack(pd.concat([pd.read_parquet(p) for p in sorted((folder / f"emb-{run}").glob("*.parquet"))])[
        "embedding"]) for run in ("local", "spark-warm"))  # fmt: skip
    print(f"\n1. embed {rows} images with {model} ({per_file} rows per file)")
    for run, seconds in timings.items():
        print(f"   {run:10s} {seconds:7.1f} s   {rows / seconds:7.1f} embeddings/s")
    for run in ("spark cold", "spark warm"):
        print(f"   {run} local[{workers}] / single process: {timings['local'] / timings[run]:.2f} (target >= 0.8)")
    print(f"   max |difference| spark - local: {np.abs(a - b).max():.2e}")


def bench_slide(blocks: int, folder: Path) -> None:
    from clipzoo.domains.pathology.demo_data import write_demo_dataset

    model = demo_model("pathology")
    paths = write_demo_dataset(folder / "slides", n_train=6, n_heldout=6, n_slides=1, tile_px=64,
                               slide_blocks=(blocks, blocks))  # fmt: skip
    slide = paths["slides"].parent / pd.read_csv(paths["slides"])["path"][0]
    options = {"tile_px": 64}
    params = {"task": "slide", "labels": ["tumor", "normal tissue"], "options": json.dumps(options)}
    frame = pd.DataFrame({"path": [str(slide)]})
    pyfunc = load_pyfunc(model)

    def predict(p: dict) -> dict:
        return pyfunc.predict(frame, params=p).to_dict("records")[0]

    predict(params)  # warm-up: caches filled
    start = time.perf_counter()
    pixels = predict(params)
    from_pixels = time.perf_counter() - start
    stored = embed_features(model, paths["slides"], folder / "features", "slide", options)
    cached_params = {**params, "options": json.dumps({**options, "features_dir": str(folder / "features")})}
    predict(cached_params)
    start = time.perf_counter()
    cached = predict(cached_params)
    from_cache = time.perf_counter() - start
    assert cached["labels"] == pixels["labels"] and cached["features_from"].startswith("stored")
    print(f"\n2. --task slide with {model} on a {blocks}x{blocks}-block slide ({pixels['tiles_used']} tissue tiles)")
    print(f"   from pixels {from_pixels:.2f} s, from stored features {from_cache:.3f} s "
          f"(written once in {stored.seconds:.1f} s): {from_pixels / from_cache:.1f}x (target >= 20x)")  # fmt: skip


def noise_scales(dim: int, spectrum: str) -> np.ndarray:
    """Per-dimension noise scales of norm 0.8: ``isotropic`` (every direction alike: the hardest case for an index),
    or ``power-law`` (variance ~ 1/i along a random basis, as the covariance spectra of real CLIP embeddings decay)."""
    variances = np.ones(dim) if spectrum == "isotropic" else 1.0 / np.arange(1, dim + 1)
    return (0.8 * np.sqrt(variances / variances.sum())).astype(np.float32)


def clustered(
    n: int, dim: int, clusters: int, rng: np.random.Generator, centres: np.ndarray, spectrum: str
) -> np.ndarray:
    """Unit vectors from a Gaussian mixture: Zipf-sized clusters, noise of norm 0.8 around unit centres."""
    weights = 1.0 / np.arange(1, clusters + 1) ** 0.8
    labels = rng.choice(clusters, size=n, p=weights / weights.sum())
    scales = noise_scales(dim, spectrum)
    basis = np.linalg.qr(np.random.default_rng(1).standard_normal((dim, dim)))[0].astype(np.float32)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 100_000):
        part = labels[start : start + 100_000]
        noise = (rng.standard_normal((len(part), dim)).astype(np.float32) * scales) @ basis.T
        out[start : start + len(part)] = centres[part] + noise
    faiss.normalize_L2(out)
    return out


def bench_faiss(n: int, spectrum: str, dim: int = 256, clusters: int = 2000, queries: int = 1000, k: int = 10) -> None:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    faiss.normalize_L2(centres)
    data = clustered(n, dim, clusters, rng, centres, spectrum)
    q = clustered(queries, dim, clusters, rng, centres, spectrum)
    ids = [str(i) for i in range(n)]
    start = time.perf_counter()
    exact = ProductIndex.build(data, ids, IndexParams(kind="flat"))
    start = time.perf_counter()
    _, truth = exact.search_rows(q, k)
    exact_qps = queries / (time.perf_counter() - start)
    start = time.perf_counter()
    ivf = ProductIndex.build(data, ids, IndexParams(kind="ivf"))
    built = time.perf_counter() - start
    print(f"\n3. {n} clustered {dim}-d embeddings ({clusters} clusters, {spectrum} noise), {queries} queries, "
          f"recall@{k}; faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads")  # fmt: skip
    print(f"   exact (flat): {exact_qps:9.1f} queries/s")
    print(f"   ivf nlist={ivf.params.nlist} built in {built:.0f} s")
    for nprobe in (4, 8, 16, 32, 64):
        ivf.params.nprobe = nprobe
        _report(ivf, f"ivf nprobe={nprobe}", q, truth, k, exact_qps)
    del ivf
    start = time.perf_counter()
    hnsw = ProductIndex.build(data, ids, IndexParams(kind="hnsw"))
    print(f"   hnsw M={hnsw.params.hnsw_m} efConstruction={hnsw.params.ef_construction} built in "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip
    for ef in (16, 32, 64, 128):
        hnsw.params.ef_search = ef
        _report(hnsw, f"hnsw efSearch={ef}", q, truth, k, exact_qps)


def _report(index: ProductIndex, name: str, q: np.ndarray, truth: np.ndarray, k: int, exact_qps: float) -> None:
    index.set_search_params()
    start = time.perf_counter()
    _, rows = index.search_rows(q, k)
    qps = len(q) / (time.perf_counter() - start)
    print(f"   {name:18s}: {qps:9.1f} queries/s ({qps / exact_qps:5.1f}x exact), "
          f"recall@{k} {recall_against(rows, truth):.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--slide-blocks", type=int, default=40)
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--spectrum", default="power-law", choices=("power-law", "isotropic"))
    parser.add_argument("--skip", nargs="*", default=[], choices=("spark", "slide", "faiss"))
    args = parser.parse_args()
    configure()
    with tempfile.TemporaryDirectory(prefix="clipzoo-scale-") as tmp:
        if "spark" not in args.skip:
            bench_spark(args.rows, args.workers, Path(tmp))
        if "slide" not in args.skip:
            bench_slide(args.slide_blocks, Path(tmp))
    if "faiss" not in args.skip:
        bench_faiss(args.vectors, args.spectrum)


if __name__ == "__main__":
    main()
