"""The ``champion`` gate: a new version takes the alias only when its held-out primary metric is at least the
champion's, decided after the version exists and with the champion re-read under a lock.

On a local store (SQLite, a folder) the decision and the alias move happen under a kernel file lock beside the store,
so two registrations cannot both read the old champion and both move the alias. A remote tracking server offers no
lock or compare-and-set; there the gate re-reads the alias after moving it, gives way when a better version holds it
and retakes it from a worse one. That narrows the race but cannot close it: against a remote server, run the
registrations that compete for a champion one at a time.
"""

from __future__ import annotations

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .catalog import CHAMPION, PRIMARY_METRIC_TAG, PRIMARY_VALUE_TAG
from .tracking import store_lock

ROUNDS = 5


def _champion(client: MlflowClient, name: str) -> tuple[str, dict[str, str]] | None:
    aliases = client.get_registered_model(name).aliases
    if CHAMPION not in aliases:
        return None
    version = str(aliases[CHAMPION])
    try:
        return version, dict(client.get_model_version(name, version).tags)
    except MlflowException:  # the champion version was deleted
        return None


def beats(tags: dict[str, str], metric: str, value: float | None) -> bool:
    """Whether a version scoring ``value`` on ``metric`` is at least the version tagged ``tags``; a version without
    a value (registered without evaluation) never displaces a champion."""
    if value is None:
        return False
    if tags.get(PRIMARY_METRIC_TAG) != metric:
        return True
    return value >= float(tags.get(PRIMARY_VALUE_TAG, "-inf"))


def settle_champion(client: MlflowClient, name: str, version: str, metric: str, value: float | None) -> bool:
    """Make ``version`` (already registered, scoring ``value``) champion if it is at least the current one; returns
    whether it is champion afterwards."""
    with store_lock(f"champion-{name}"):
        for _ in range(ROUNDS):
            current = _champion(client, name)
            if current is not None and current[0] == version:
                return True
            if current is not None and not beats(current[1], metric, value):
                return False
            client.set_registered_model_alias(name, CHAMPION, version)
        current = _champion(client, name)
        return current is not None and current[0] == version
