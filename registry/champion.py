"""The ``champion`` gate: a new version takes the alias only when its primary metric is at least the champion's,
measured on the same data, decided after the version exists and with the champion re-read under a lock.

Results are compared only when they are on the same data: the same held-out manifest (its sha256) and metric by
default, or, for a line gated on a benchmark (``clipzoo models gate LINE --benchmark NAME``), the same benchmark and
converted-manifest hash, decided when ``clipzoo eval --benchmark`` measures a version. A version whose result cannot
be compared keeps the champion where it is, and the reason is returned to be shown: never a silent comparison.

The decision and the alias move happen under a lock every registering command shares, so two registrations cannot
both read the old champion and both move the alias: a kernel file lock beside a local store (SQLite, a folder), a
registry lock (``locks.registry_lock``: a reserved registered model only one client can create) on a tracking server.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .catalog import (
    BENCHMARK_EXPERIMENT,
    BENCHMARK_TAG,
    CHAMPION,
    GATE_TAG,
    MANIFEST_SHA_TAG,
    MODEL_NAME_TAG,
    MODEL_VERSION_TAG,
    PRIMARY_DATA_TAG,
    PRIMARY_METRIC_TAG,
    PRIMARY_VALUE_TAG,
)
from .tracking import store_lock


@dataclass(frozen=True)
class Score:
    """A result the gate compares: a metric's value on some data (a manifest hash); ``value`` None: none."""

    metric: str
    value: float | None
    data: str | None = None


@dataclass(frozen=True)
class Decision:
    champion: bool
    note: str | None = None  # why it is (not) champion, when that is not simply "it scores higher / lower"


def _champion(client: MlflowClient, name: str) -> tuple[str, dict[str, str]] | None:
    aliases = client.get_registered_model(name).aliases
    if CHAMPION not in aliases:
        return None
    version = str(aliases[CHAMPION])
    try:
        return version, dict(client.get_model_version(name, version).tags)
    except MlflowException:  # the champion version was deleted
        return None


def held_out_score(tags: dict[str, str]) -> Score:
    """A version's recorded held-out result."""
    value = tags.get(PRIMARY_VALUE_TAG)
    return Score(tags.get(PRIMARY_METRIC_TAG, ""), float(value) if value is not None else None,
                 tags.get(PRIMARY_DATA_TAG))  # fmt: skip


def compare(champion: Score, new: Score) -> bool | str:
    """True / False when ``new`` is / is not at least ``champion``; a reason (str) when they cannot be compared."""
    if new.value is None:
        return False
    if champion.value is None:
        return "the champion has no result on this data"
    if champion.metric != new.metric:
        return f"the champion is measured by {champion.metric!r}, this version by {new.metric!r}"
    if champion.data != new.data:
        return f"the champion was measured on other data (manifest sha256 {str(champion.data)[:12]}...)"
    return new.value >= champion.value


def _settle(client: MlflowClient, name: str, version: str, champion_score, new: Score) -> Decision:
    """Move the alias to ``version`` if it is at least the champion (``champion_score(tags, version)`` reads the
    champion's result), under the store lock."""
    with store_lock(f"champion-{name}"):
        current = _champion(client, name)
        if current is not None and current[0] == version:
            return Decision(True)
        if current is not None:
            verdict = compare(champion_score(current[1], current[0]), new)
            if isinstance(verdict, str):
                return Decision(False, f"not compared with champion version {current[0]}: {verdict}")
            if not verdict:
                return Decision(False)
        client.set_registered_model_alias(name, CHAMPION, version)
        return Decision(True)


def settle_champion(client: MlflowClient, name: str, version: str, score: Score) -> Decision:
    """At registration: ``version`` (already registered, with its held-out ``score``) becomes champion if it is at
    least the current one on the same held-out data. A line gated on a benchmark is decided there instead."""
    gate = client.get_registered_model(name).tags.get(GATE_TAG)
    if gate:
        return Decision(False, f"{name}'s champion is decided on benchmark {gate!r}: "
                               f"run clipzoo eval {name}/{version} --benchmark {gate} --data DIR")  # fmt: skip
    return _settle(client, name, version, lambda tags, _: held_out_score(tags), score)


def benchmark_score(client: MlflowClient, name: str, version: str, benchmark: str, data: str, metric: str) -> Score:
    """A version's newest result on ``benchmark`` with manifest hash ``data`` (value None when it has none)."""
    exp = client.get_experiment_by_name(BENCHMARK_EXPERIMENT)
    if exp is None:
        return Score(metric, None, data)
    query = (f"tags.`{MODEL_NAME_TAG}` = '{name}' and tags.`{MODEL_VERSION_TAG}` = '{version}' and "
             f"tags.`{BENCHMARK_TAG}` = '{benchmark}' and tags.`{MANIFEST_SHA_TAG}` = '{data}'")  # fmt: skip
    key = metric.replace("@", "_at_").replace("/", "_")
    for run in client.search_runs([exp.experiment_id], query, order_by=["attributes.start_time DESC"]):
        if run.info.status == "FINISHED" and key in run.data.metrics:
            return Score(metric, float(run.data.metrics[key]), data)
    return Score(metric, None, data)


def settle_on_benchmark(
    client: MlflowClient, name: str, version: str, benchmark: str, data: str, metric: str, value: float
) -> str | None:
    """After ``clipzoo eval --benchmark``: for a line gated on ``benchmark``, make ``version`` champion when its
    result is at least the champion's on the same manifest hash; returns what happened (None: the line's champion
    is not decided on this benchmark)."""
    if client.get_registered_model(name).tags.get(GATE_TAG) != benchmark:
        return None
    new = Score(metric, value, data)
    decision = _settle(client, name, version,
                       lambda _, v: benchmark_score(client, name, v, benchmark, data, metric), new)  # fmt: skip
    if decision.note:
        return decision.note
    return f"{name} version {version} is champion on {benchmark}" if decision.champion else (
        f"champion kept: it scores higher on {benchmark}")  # fmt: skip


def set_gate(client: MlflowClient, name: str, benchmark: str | None) -> None:
    """Decide ``name``'s champion on ``benchmark`` from now on (None: on the held-out data again)."""
    if benchmark:
        client.set_registered_model_tag(name, GATE_TAG, benchmark)
    else:
        client.delete_registered_model_tag(name, GATE_TAG)
