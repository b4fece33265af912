"""The benchmark job: a registered model on one of its domain's standard benchmarks (``clipzoo eval --benchmark``),
logged as an MLflow run tied to the model version, and the leaderboard of every version measured on each benchmark.

The published folder is converted once by the benchmark's converter and the manifest cached under the clipzoo
folder, keyed by the folder's listing (paths, sizes, modification times) and the converter's options. Each result
carries the manifest's content hash (rows and labels, with paths relative to the data folder, so the same data
elsewhere hashes the same): results on different hashes of one benchmark are never compared or shown in one column.

An adapted version scores a classification benchmark of its classes with its few-shot head (``core.benchmark_eval``);
each run's ``clipzoo.scored_by`` tag says whether the head (``adapted``) or zero-shot prompts gave its numbers, and
``clipzoo.scoring_note`` how an adapted version's head was (not) used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from clipzoo.core.benchmark import Benchmark
from clipzoo.core.benchmark_eval import BenchmarkReport, evaluate_benchmark
from clipzoo.core.data import PATH_COLUMN, Manifest
from clipzoo.core.domain import Domain, available_domains, get_domain
from clipzoo.core.errors import InputError
from clipzoo.registry import plots
from clipzoo.registry.catalog import (
    BENCHMARK_EXPERIMENT,
    BENCHMARK_TAG,
    DOMAIN_TAG,
    MANIFEST_SHA_TAG,
    MODEL_NAME_TAG,
    MODEL_VERSION_TAG,
    resolve,
)
from clipzoo.registry.champion import set_gate, settle_on_benchmark
from clipzoo.registry.loading import registered_package
from clipzoo.registry.package import load_package
from clipzoo.registry.scratch import scratch
from clipzoo.registry.tracking import clipzoo_home, configure, experiment_for

from .evaluate import SCORED_BY_TAG, SCORING_NOTE_TAG, mlflow_metric_name

MANIFEST = "manifest.csv"
EXPERIMENT = BENCHMARK_EXPERIMENT.removeprefix("clipzoo-")  # experiment_for's name for it


@dataclass
class BenchmarkResult:
    benchmark: Benchmark
    model: str  # name/version
    manifest_sha256: str
    rows: int
    report: BenchmarkReport
    run_id: str
    champion_note: str | None = None


def find_benchmark(name: str, domain: str | None = None) -> Benchmark:
    """A benchmark by name, in ``domain`` or in any installed domain."""
    domains = [domain] if domain else available_domains()
    found = [b for d in domains for b in get_domain(d).benchmarks() if b.name == name]
    if not found:
        known = sorted(b.name for d in domains for b in get_domain(d).benchmarks())
        raise InputError(f"unknown benchmark {name!r}; known: {', '.join(known) or 'none'}")
    return found[0]


def _listing_key(folder: Path, benchmark: Benchmark) -> str:
    digest = hashlib.sha256(json.dumps([benchmark.layout, benchmark.options], sort_keys=True).encode())
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(root, name)
            stat = path.stat()
            digest.update(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def manifest_sha256(manifest: Manifest, data_root: Path) -> str:
    """The content hash of a benchmark manifest: its rows and columns, each path relative to the data folder."""
    frame = manifest.frame.copy()
    if PATH_COLUMN in frame.columns:
        frame[PATH_COLUMN] = [
            os.path.relpath(manifest.file(i).resolve(), data_root.resolve()) for i in range(len(frame))
        ]
    frame = frame[sorted(frame.columns)]
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def benchmark_manifest(domain: Domain, benchmark: Benchmark, data: str | Path) -> tuple[Manifest, str]:
    """The converted manifest of ``data`` (a published folder, converted once and cached; or an already converted
    manifest file) and its content hash."""
    data = Path(data)
    if data.is_file():
        manifest = Manifest.read(data, require_caption=False)
        return manifest, manifest_sha256(manifest, data.parent)
    if not data.is_dir():
        raise InputError("benchmark data not found (give the published folder or a converted manifest)", data)
    converters = domain.converters()
    if benchmark.layout not in converters:
        raise InputError(f"benchmark {benchmark.name!r} names converter {benchmark.layout!r}, unknown to {domain.name}")
    cache = clipzoo_home() / "benchmarks" / benchmark.name / _listing_key(data, benchmark)[:24]
    out = cache / MANIFEST
    if not out.is_file():
        with scratch("benchmark") as tmp:
            converters[benchmark.layout].run(str(data), str(tmp / MANIFEST), **benchmark.options)
            _store_converted(tmp, cache)
    manifest = Manifest.read(out, require_caption=False)
    return manifest, manifest_sha256(manifest, data)


def _converted_manifest(tmp: Path) -> Path:
    """The manifest a converter wrote when asked for ``tmp/manifest.csv``: that file, or (a converter that writes a
    folder of files) the one CSV in that folder that is not a triplet file."""
    written = tmp / MANIFEST
    if written.is_file():
        return written
    found = [p for p in written.rglob("*.csv") if not p.name.endswith(".triplets.csv")] if written.is_dir() else []
    if len(found) != 1:
        raise InputError(f"the converter wrote {len(found)} manifests where one was expected", written)
    return found[0]


def _store_converted(tmp: Path, cache: Path) -> None:
    """Move a conversion into the cache folder as ``manifest.csv`` (+ ``manifest.triplets.csv`` and any other file
    the converter wrote beside it), relative paths re-rooted at the cache; atomic: a folder renamed into place."""
    manifest = _converted_manifest(tmp)
    staged = Path(f"{cache}.partial-{os.getpid()}")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    for path in sorted(p for p in manifest.parent.iterdir() if p.is_file()):
        name = MANIFEST if path == manifest else path.name
        if path.name == manifest.stem + ".triplets.csv":
            name = Path(MANIFEST).stem + ".triplets.csv"
        _relocate(path, staged / name)
    if cache.exists():  # converted meanwhile by another command: keep that one
        shutil.rmtree(staged)
    else:
        os.replace(staged, cache)


def _relocate(source: Path, target: Path) -> None:
    """Copy a converter's file; a CSV's relative ``path`` column is re-rooted at the target's folder."""
    if source.suffix != ".csv":
        shutil.copy2(source, target)
        return
    frame = pd.read_csv(source, dtype=str)
    if PATH_COLUMN in frame.columns:
        frame[PATH_COLUMN] = [
            p if os.path.isabs(p) else os.path.relpath(os.path.normpath(source.parent / p), target.parent)
            for p in frame[PATH_COLUMN].astype(str)
        ]
    frame.to_csv(target, index=False)


def evaluate_on_benchmark(ref: str, benchmark_name: str, data: str | Path) -> BenchmarkResult:
    """``clipzoo eval MODEL --benchmark NAME --data DIR``: convert, evaluate, log one run tied to the version."""
    with registered_package(ref) as (mv, package):
        clip = load_package(package)
    domain = get_domain(clip.spec.domain)
    benchmark = find_benchmark(benchmark_name, domain.name)
    manifest, sha = benchmark_manifest(domain, benchmark, data)
    report = evaluate_benchmark(clip, domain, benchmark, manifest)
    experiment_for(EXPERIMENT)
    model = f"{mv.name}/{mv.version}"
    tags = {
        MODEL_NAME_TAG: mv.name,
        MODEL_VERSION_TAG: str(mv.version),
        BENCHMARK_TAG: benchmark.name,
        MANIFEST_SHA_TAG: sha,
        "clipzoo.domain": domain.name,
        "clipzoo.version": version("clipzoo"),
        "clipzoo.metric": benchmark.metric,
        SCORED_BY_TAG: report.scored_by,
    }
    if report.note:
        tags[SCORING_NOTE_TAG] = report.note[:5000]
    with mlflow.start_run(run_name=f"{benchmark.name} {model}", tags=tags) as run:
        finite = {k: v for k, v in report.metrics.items() if np.isfinite(v)}
        mlflow.log_metrics({mlflow_metric_name(k).replace("/", "_"): v for k, v in finite.items()})
        mlflow.log_params({"data": str(Path(data).resolve()), "rows": len(manifest)})
        _log_figures(benchmark, model, report)
    note = settle_on_benchmark(configure(), mv.name, str(mv.version), benchmark.name, sha, benchmark.metric,
                               report.metrics[benchmark.metric])  # fmt: skip
    return BenchmarkResult(benchmark, model, sha, len(manifest), report, run.info.run_id, note)


def _log_figures(benchmark: Benchmark, model: str, report: BenchmarkReport) -> None:
    title = f"{benchmark.title}: {model}"
    if report.confusion is not None:
        matrix, names = report.confusion
        mlflow.log_figure(plots.confusion_figure(matrix, names, title), "plots/confusion.png")
    if report.per_class:
        what = "AUROC" if benchmark.task == "multilabel" else "accuracy"
        mlflow.log_figure(plots.per_class_figure(report.per_class, what, title), "plots/per_class.png")
    if report.recall_curve:
        mlflow.log_figure(plots.recall_curve_figure(report.recall_curve, title), "plots/retrieval_curve.png")


def benchmark_runs(domain: str | None = None, benchmark: str | None = None) -> list[dict[str, Any]]:
    """Every logged benchmark result (newest first), as dicts of the run's tags and metrics."""
    client = configure()
    exp = client.get_experiment_by_name(BENCHMARK_EXPERIMENT)
    if exp is None:
        return []
    filters = [f"tags.`{BENCHMARK_TAG}` = '{benchmark}'"] if benchmark else []
    if domain:
        filters.append(f"tags.`clipzoo.domain` = '{domain}'")
    runs = client.search_runs([exp.experiment_id], " and ".join(filters), order_by=["attributes.start_time DESC"])
    return [{"tags": dict(r.data.tags), "metrics": dict(r.data.metrics), "run_id": r.info.run_id,
             "start": r.info.start_time} for r in runs if r.info.status == "FINISHED"]  # fmt: skip


def gate_line(name: str, benchmark: str | None) -> str:
    """``clipzoo models gate``: decide the registered model ``name``'s champion on ``benchmark`` (a benchmark of its
    domain), or on held-out data again (None)."""
    client = configure()
    ref = resolve(name, client)
    if ref.name is None:
        raise InputError(f"{name!r} is not a registered model name")
    model = client.get_registered_model(ref.name)
    if benchmark:
        domain = model.tags.get(DOMAIN_TAG) or ref.name.removeprefix("clipzoo-").split("-")[0]
        find_benchmark(benchmark, domain)
    set_gate(client, ref.name, benchmark)
    if benchmark:
        return f"{ref.name}: champion decided on benchmark {benchmark} (clipzoo eval {ref.name}/N --benchmark ...)"
    return f"{ref.name}: champion decided on its held-out data"
