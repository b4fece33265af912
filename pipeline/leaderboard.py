"""The leaderboard job: every registered version measured on each benchmark, beside the published anchors.

One board per benchmark and converted-manifest hash: results on different manifests of one benchmark (another
split, another release, a subset) are never put in one column. A version measured twice on the same manifest shows
its newest result. A measured entry says whether an adapted version's head (``adapted``) or zero-shot prompts gave
its number (runs logged before the tag existed were all zero-shot).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mlflow
import pandas as pd
from clipzoo.core.adapt.heldout import ZERO_SHOT
from clipzoo.core.benchmark import Benchmark
from clipzoo.core.domain import available_domains, get_domain
from clipzoo.registry.catalog import BENCHMARK_TAG, MANIFEST_SHA_TAG, MODEL_NAME_TAG, MODEL_VERSION_TAG
from clipzoo.registry.tracking import experiment_for

from .benchmark import EXPERIMENT, benchmark_runs
from .evaluate import SCORED_BY_TAG, mlflow_metric_name


@dataclass
class Entry:
    model: str
    value: float | None
    published: bool = False
    source: str | None = None  # the paper (anchors) or the MLflow run id (measured here)
    scored_by: str | None = None  # measured here: "adapted" (an adapted version's head) or "zero-shot"


@dataclass
class Board:
    benchmark: Benchmark
    manifest_sha256: str | None  # None: a benchmark nothing here was measured on (anchors only)
    entries: list[Entry] = field(default_factory=list)

    def to_rows(self) -> list[dict]:
        return [
            {"benchmark": self.benchmark.name, "domain": self.benchmark.domain, "metric": self.benchmark.metric,
             "manifest_sha256": self.manifest_sha256, "model": e.model, "value": e.value, "published": e.published,
             "source": e.source, "scored_by": e.scored_by}
            for e in self.entries
        ]  # fmt: skip


def leaderboard(domain: str | None = None, benchmark: str | None = None) -> list[Board]:
    """Boards for every benchmark of ``domain`` (or every domain), or just ``benchmark``; measured rows best first,
    then the anchors with their source."""
    benchmarks = [
        b
        for d in ([domain] if domain else available_domains())
        for b in get_domain(d).benchmarks()
        if benchmark is None or b.name == benchmark
    ]
    boards = []
    for bench in benchmarks:
        runs = benchmark_runs(bench.domain, bench.name)
        by_manifest: dict[str, dict[str, Entry]] = {}
        key = mlflow_metric_name(bench.metric).replace("/", "_")
        for run in runs:  # newest first: the first result of a version on a manifest is its newest
            tags = run["tags"]
            model = f"{tags[MODEL_NAME_TAG]}/{tags[MODEL_VERSION_TAG]}"
            if tags.get(BENCHMARK_TAG) != bench.name:
                continue
            seen = by_manifest.setdefault(tags.get(MANIFEST_SHA_TAG, "?"), {})
            scored_by = tags.get(SCORED_BY_TAG, ZERO_SHOT)
            seen.setdefault(model, Entry(model, run["metrics"].get(key), source=f"run {run['run_id']}",
                                         scored_by=scored_by))  # fmt: skip
        anchors = [Entry(a.model, a.value, published=True, source=a.source) for a in bench.anchors]
        for sha, measured in by_manifest.items() or [(None, {})]:
            ranked = sorted(measured.values(), key=lambda e: -(e.value if e.value is not None else float("-inf")))
            boards.append(Board(bench, sha, ranked + anchors))
    return boards


def log_leaderboard(boards: list[Board]) -> str | None:
    """Log the boards as one MLflow table (``leaderboard.json``) in a run of the benchmarks experiment; returns the
    run id (None when there is nothing to log)."""
    rows = [row for board in boards for row in board.to_rows()]
    if not rows:
        return None
    experiment_for(EXPERIMENT)
    with mlflow.start_run(run_name="leaderboard", tags={"clipzoo.leaderboard": "true"}) as run:
        mlflow.log_table(pd.DataFrame(rows), "leaderboard.json")
    return run.info.run_id
