"""Progress shows as plain log lines when stderr is not a terminal (CI, log files)."""

from __future__ import annotations

from clipzoo.core.progress import Progress


def test_plain_lines_when_not_a_tty(capsys):
    progress = Progress(range(20), total=20, desc="epoch 1/1", lines=4)
    for i in progress:
        progress.set(loss=1.0 / (i + 1))
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 4
    assert err[-1].startswith("epoch 1/1: 20/20") and "loss=0.05" in err[-1]
    assert "\r" not in "".join(err)
