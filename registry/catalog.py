"""Finding models: resolve a user's reference (name, name@alias, name/version, run) and list, show, promote."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clipzoo.core.errors import ModelNotFoundError
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .store_index import LINE_TAG, RUN_ID, is_registry_lock, not_registered, split_name_ref
from .tracking import configure

CHAMPION = "champion"
PRIMARY_METRIC_TAG = "clipzoo.primary_metric"
PRIMARY_VALUE_TAG = "clipzoo.primary_value"
SHA_TAG = "clipzoo.weights_sha256"
DOMAIN_TAG = "clipzoo.domain"  # on a registered model: its domain
GATE_TAG = "clipzoo.gate_benchmark"  # on a registered model: the benchmark its champion is decided on, if any
PRIMARY_DATA_TAG = "clipzoo.primary_data_sha256"  # on a version: the held-out manifest its primary metric is from
# Benchmark results: runs of this experiment, tagged with the version, the benchmark and its manifest's hash.
BENCHMARK_EXPERIMENT = "clipzoo-benchmarks"
MODEL_NAME_TAG, MODEL_VERSION_TAG = "clipzoo.model_name", "clipzoo.model_version"
BENCHMARK_TAG, MANIFEST_SHA_TAG = "clipzoo.benchmark", "clipzoo.manifest_sha256"


@dataclass(frozen=True)
class ModelRef:
    uri: str
    name: str | None = None
    version: str | None = None


def _registered(client: MlflowClient, name: str) -> str | None:
    """The registered model a user means: its full name, the name without ``clipzoo-`` (``image``,
    ``medical-biomedclip``), or a line name alone (``biomedclip``) when exactly one domain has that line."""
    for candidate in (name, f"clipzoo-{name}"):
        try:
            client.get_registered_model(candidate)
            return candidate
        except MlflowException:
            continue
    lines = [m.name for m in client.search_registered_models() if m.tags.get(LINE_TAG) == name]
    if len(lines) > 1:
        raise ModelNotFoundError(f"line {name!r} exists in several domains: name one of {', '.join(sorted(lines))}")
    return lines[0] if lines else None


def resolve(ref: str, client: MlflowClient | None = None) -> ModelRef:
    """``runs:/…`` and ``models:/…`` URIs, a run id, ``name``, ``name@alias`` or ``name/version`` to a model URI.

    A bare name means its ``champion`` when it has one, else its newest version. ``image`` is short for
    ``clipzoo-image``; a line name (``biomedclip``) or ``medical-biomedclip`` for ``clipzoo-medical-biomedclip``.
    """
    client = client or configure()
    if ref.startswith(("runs:/", "models:/")):
        return ModelRef(uri=ref)
    if RUN_ID.match(ref):
        try:
            client.get_run(ref)
        except MlflowException as err:
            raise ModelNotFoundError(f"no run {ref!r} in {client.tracking_uri}") from err
        return ModelRef(uri=f"runs:/{ref}/model")
    name, alias, version = split_name_ref(ref)
    found = _registered(client, name)
    if found is None:
        known = [m.name for m in client.search_registered_models() if not is_registry_lock(m.name)]
        raise ModelNotFoundError(not_registered(name, known))
    try:
        if alias:
            mv = client.get_model_version_by_alias(found, alias)
        elif version:
            mv = client.get_model_version(found, version)
        else:
            aliases = client.get_registered_model(found).aliases
            mv = (
                client.get_model_version(found, aliases[CHAMPION])
                if CHAMPION in aliases
                else max(client.search_model_versions(f"name='{found}'"), key=lambda v: int(v.version))
            )
    except (MlflowException, ValueError) as err:
        what = f"alias {alias!r}" if alias else f"version {version!r}" if version else "any version"
        raise ModelNotFoundError(f"model {found!r} has no {what}") from err
    return ModelRef(uri=f"models:/{found}/{mv.version}", name=found, version=str(mv.version))


def list_models(client: MlflowClient | None = None) -> list[dict[str, Any]]:
    client = client or configure()
    rows = []
    for rm in client.search_registered_models():
        if is_registry_lock(rm.name):
            continue
        versions = client.search_model_versions(f"name='{rm.name}'")
        domain, line = rm.tags.get(DOMAIN_TAG), rm.tags.get(LINE_TAG) or None
        if domain is None:  # registered before lines existed: ``clipzoo-<domain>``
            domain = rm.name.removeprefix("clipzoo-")
        rows.append(
            {
                "name": rm.name,
                "domain": domain,
                "line": line,
                "versions": len(versions),
                "latest": max((int(v.version) for v in versions), default=None),
                "aliases": dict(rm.aliases),
            }
        )
    return sorted(rows, key=lambda r: (r["domain"], r["line"] or "", r["name"]))


def show_model(ref: str, client: MlflowClient | None = None) -> dict[str, Any]:
    client = client or configure()
    resolved = resolve(ref, client)
    if resolved.name is None:
        return {"uri": resolved.uri}
    mv = client.get_model_version(resolved.name, resolved.version)
    run = client.get_run(mv.run_id) if mv.run_id else None
    artifacts = _artifact_location(client, mv)
    return {
        "name": mv.name,
        "version": str(mv.version),
        "uri": resolved.uri,
        "artifact_uri": artifacts,
        "aliases": list(mv.aliases),
        "run_id": mv.run_id,
        "created": mv.creation_timestamp,
        "tags": dict(mv.tags),
        "metrics": dict(run.data.metrics) if run else {},
        "card": _model_card(artifacts),
    }


CARD_PATH = "artifacts/clipzoo_model/model_card.md"  # inside the logged model (``publish``'s package folder)


def _artifact_location(client: MlflowClient, mv: Any) -> str:
    """Where a version's files are stored: its logged model's artifact location (else the version's source)."""
    source = str(mv.source)
    model_id = getattr(mv, "model_id", None) or (
        source.removeprefix("models:/") if source.startswith("models:/m-") else None
    )
    if model_id:
        try:
            return str(client.get_logged_model(model_id).artifact_location)
        except MlflowException:
            pass
    return source


def _model_card(artifact_uri: str) -> str | None:
    """The model card stored with a version (only that file is downloaded), or None when it has none."""
    import tempfile

    import mlflow

    with tempfile.TemporaryDirectory(prefix="clipzoo-card-") as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(artifact_uri=f"{artifact_uri}/{CARD_PATH}", dst_path=tmp)
        except (MlflowException, OSError):
            return None
        return Path(path).read_text(encoding="utf-8")


def promote(name: str, version: str, alias: str = CHAMPION, client: MlflowClient | None = None) -> None:
    """Point ``alias`` at a version by hand (``clipzoo models promote``)."""
    client = client or configure()
    found = _registered(client, name)
    if found is None:
        raise ModelNotFoundError(f"no registered model {name!r}")
    try:
        client.get_model_version(found, version)
    except MlflowException as err:
        raise ModelNotFoundError(f"model {found!r} has no version {version!r}") from err
    client.set_registered_model_alias(found, alias, version)
