"""What `clipzoo serve` hands the server process: its limits and timeout in the environment, and a warning when it
binds beyond loopback."""

from __future__ import annotations

import pytest
from clipzoo.core.errors import InputError
from clipzoo.registry.limits import ENV_TIMEOUT, ServeLimits
from clipzoo.registry.serving import is_loopback, serve_env


def test_limits_and_timeout_travel_in_the_environment(tmp_path):
    limits = ServeLimits(timeout_s=7, max_rows=3).with_roots([tmp_path])
    env = serve_env(tmp_path, limits)
    assert env[ENV_TIMEOUT] == "7"
    assert ServeLimits.from_env(env) == limits


def test_a_data_root_must_be_a_folder(tmp_path):
    with pytest.raises(InputError, match="--data-root"):
        ServeLimits().with_roots([tmp_path / "missing"])


def test_only_loopback_hosts_are_quiet():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
