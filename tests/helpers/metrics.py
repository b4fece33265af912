"""Read a held-out metric back from what `clipzoo demo` printed: lines ``  <name>  <value>``."""

from __future__ import annotations

import re


def printed_metric(out: str, name: str) -> float:
    """The value printed on the line ``  <name>  <value>`` of ``out`` (a metric line, or a row of medical's findings
    table, whose CI after the AUROC is ignored); fails naming the metric when no such line was printed."""
    match = re.search(rf"^  {re.escape(name)} +([0-9.]+)(?: +\[[^\]]*\])?$", out, re.MULTILINE)
    assert match, f"no held-out {name!r} line in the demo output"
    return float(match.group(1))
