"""The lock clients of one tracking server share (a reserved registered model): exclusive, released, taken over
after its holder's lease runs out, and never listed as a model."""

from __future__ import annotations

import threading
import time

import pytest
from clipzoo.core.errors import ClipzooError
from clipzoo.registry.catalog import list_models
from clipzoo.registry.locks import registry_lock
from clipzoo.registry.store_index import REGISTRY_LOCK_PREFIX
from clipzoo.registry.tracking import configure


def test_only_one_holder_at_a_time_and_released_after():
    client = configure()
    inside, overlaps, done = [], [], []

    def work(i: int) -> None:
        with registry_lock(client, "counter"):
            if inside:
                overlaps.append(i)
            inside.append(i)
            time.sleep(0.05)
            inside.remove(i)
            done.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(done) == [0, 1, 2, 3] and overlaps == []
    assert not [m.name for m in client.search_registered_models() if m.name.startswith(REGISTRY_LOCK_PREFIX)]


def test_a_dead_holders_lock_is_taken_over_after_its_lease_and_never_listed():
    client = configure()
    held = registry_lock(client, "abandoned", lease_s=3)
    held.__enter__()  # a holder killed before releasing it: never exits
    assert all(not row["name"].startswith(REGISTRY_LOCK_PREFIX) for row in list_models(client))
    waiting = registry_lock(client, "abandoned", timeout_s=0.3)
    with pytest.raises(ClipzooError, match="waited"):  # its lease still runs: others wait
        waiting.__enter__()
    with registry_lock(client, "abandoned", timeout_s=60):  # then it is taken over
        pass
    assert not [m.name for m in client.search_registered_models() if m.name.startswith(REGISTRY_LOCK_PREFIX)]
