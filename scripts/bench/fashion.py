"""Product index benchmark: exact (IndexFlatIP) vs approximate (IVF, HNSW) search over random unit vectors.

python scripts/bench/fashion.py [--n 200000] [--dim 256] [--queries 1000] [--k 10] [--target 0.9]
Prints, per index and search setting: build time, queries/s (one batch of all queries, faiss' own threads; set
OMP_NUM_THREADS to pin them) and recall@k of the approximate top-k against the exact top-k; then, per index kind, the
fastest setting that reaches ``--target`` recall. Random unit vectors are the hard case for approximate search (no
clusters, every neighbour almost as far as any other): reaching high recall there means searching a large part of the
catalogue. Real catalogue embeddings cluster and recall better at the same settings.

Measured here (faiss 1.15.1, one thread on a shared 2-core machine, so times are rough): exact search 30-57 q/s;
IVF nlist=1024 recall@10 0.10 / 0.26 / 0.61 / 0.85 / 0.95 at nprobe 16 / 64 / 256 / 512 / 768 (0.95 costs about as
much as exact search); HNSW M=32 efC=200 0.16 / 0.44 / 0.65 / 0.85 at efSearch 64 / 256 / 512 / 1024 (44 q/s).
On such data, >= 0.9 recall means scanning most of the catalogue: use the exact index unless the embeddings cluster.
"""

import argparse
import time

import faiss
import numpy as np
from clipzoo.domains.fashion.index import IndexParams, ProductIndex, recall_against


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def configs(args: argparse.Namespace) -> list[IndexParams]:
    """Exact search first (the reference), then every search setting of each approximate index asked for."""
    out = [IndexParams(kind="flat")]
    if "ivf" in args.kinds:
        out += [IndexParams(kind="ivf", nlist=args.nlist, nprobe=n) for n in args.nprobe]
    if "hnsw" in args.kinds:
        out += [IndexParams(kind="hnsw", hnsw_m=args.m, ef_construction=args.ef_construction, ef_search=e)
                for e in args.ef_search]  # fmt: skip
    return out


def setting(params: IndexParams) -> str:
    if params.kind == "ivf":
        return f"ivf nlist={params.nlist} nprobe={params.nprobe}"
    if params.kind == "hnsw":
        return f"hnsw M={params.hnsw_m} efC={params.ef_construction} efSearch={params.ef_search}"
    return "flat (exact)"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200_000)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--kinds", nargs="+", choices=("ivf", "hnsw"), default=["ivf", "hnsw"])
    p.add_argument("--nlist", type=int, default=1024, help="IVF lists")
    p.add_argument("--nprobe", type=int, nargs="+", default=[16, 64, 256, 768], help="IVF lists searched")
    p.add_argument("--m", type=int, default=32, help="HNSW neighbours per node")
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--ef-search", type=int, nargs="+", default=[64, 256, 1024, 2048])
    p.add_argument("--target", type=float, default=0.9, help="recall the summary picks the fastest setting for")
    args = p.parse_args()
    catalogue, queries = unit_vectors(args.n, args.dim, 0), unit_vectors(args.queries, args.dim, 1)
    ids = [f"P{i}" for i in range(args.n)]
    print(f"catalogue: {args.n} random unit vectors, {args.dim}-d; {args.queries} queries; k={args.k}; "
          f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads", flush=True)  # fmt: skip
    exact_rows, built, results = None, {}, []
    print(f"{'index':44s} {'build s':>9s} {'queries/s':>11s} {'recall@' + str(args.k):>10s}", flush=True)
    for params in configs(args):
        key = (params.kind, params.nlist, params.hnsw_m, params.ef_construction)
        start = time.perf_counter()
        if key in built:  # same structure, another search setting: reuse the build
            cached, build_s = built[key]
            index = ProductIndex(cached.index, cached.ids, params)
            index.set_search_params()
        else:
            index = ProductIndex.build(catalogue, ids, params)
            build_s = time.perf_counter() - start
            built[key] = (index, build_s)
        start = time.perf_counter()
        _, rows = index.search_rows(queries, args.k)
        qps = len(queries) / (time.perf_counter() - start)
        if exact_rows is None:
            exact_rows = rows
        recall = recall_against(rows, exact_rows)
        results.append((params, build_s, qps, recall))
        print(f"{setting(params):44s} {build_s:9.2f} {qps:11.0f} {recall:10.3f}", flush=True)
    exact_qps = results[0][2]
    print(f"\nfastest setting with recall@{args.k} >= {args.target} (exact search: {exact_qps:.0f} queries/s):")
    for kind in ("ivf", "hnsw"):
        good = [r for r in results if r[0].kind == kind and r[3] >= args.target]
        if good:
            params, build_s, qps, recall = max(good, key=lambda r: r[2])
            print(f"  {setting(params):44s} recall {recall:.3f}, {qps:.0f} q/s ({qps / exact_qps:.1f}x exact), "
                  f"build {build_s:.1f} s")  # fmt: skip
        else:
            print(f"  {kind}: no setting tried reaches {args.target}")
    print("(random unit vectors have no neighbourhood structure: the worst case for IVF and HNSW recall)")


if __name__ == "__main__":
    main()
