"""The demo's last step: a slide classified by the registered model through ``clipzoo predict --task slide``'s path
(the pyfunc model, as the CLI and the server load it), described with its tiles and heatmap."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from clipzoo.core.domain import DemoQuery, ranked_labels

from .slide_task import TASK


def describe_slide(row: dict[str, Any]) -> list[str]:
    per_k = ", ".join(f"K={k}: {lb}" for k, lb in row["label_per_k"].items())
    return [
        *ranked_labels(row),
        f"  top-{row['k']} pooling; {per_k}; tiles used {row['tiles_used']}, skipped {row['tiles_skipped']} "
        f"(level {row['level']}, {row['tile_px']} px at {row['mpp']:g} um/px)",
        f"  heatmap -> {row['heatmap']}",
    ]


def slide_query(ref: str, slide: Path, tile_px: int, heatmap_dir: Path) -> DemoQuery:
    """Ranked diagnoses of ``slide`` (the "diagnosis" prompt pack), its tiles and heatmap."""
    options = {"tile_px": tile_px, "heatmap_dir": str(heatmap_dir)}
    flags = " ".join(f"--option {shlex.quote(f'{key}={value}')}" for key, value in options.items())
    command = f"clipzoo predict {ref} {shlex.quote(str(slide))} --task {TASK} {flags}"
    params = {"task": TASK, "options": json.dumps(options), "top_k": 3}
    return DemoQuery({"path": [str(slide)]}, params, command, describe_slide)
