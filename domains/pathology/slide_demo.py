"""The demo's last step: a slide classified by the registered champion through ``clipzoo predict --task slide``'s
path (the pyfunc model, as the CLI and the server load it), printed with its tiles and heatmap."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from .slide_task import TASK


def predict_demo_slide(model: str, slide: Path, tile_px: int, heatmap_dir: Path) -> int:
    """Print the ranked diagnoses of ``slide`` (the "diagnosis" prompt pack), its tiles and heatmap; 2 on error."""
    from clipzoo.cli.main import _predict_rows

    options = {"tile_px": tile_px, "heatmap_dir": str(heatmap_dir)}
    params = {"task": TASK, "options": json.dumps(options), "top_k": 3}
    flags = " ".join(f"--option {key}={value}" for key, value in options.items())
    print(f"\nclipzoo predict {model} {slide} --task {TASK} {flags}")
    row = _predict_rows(model, pd.DataFrame({"path": [str(slide)]}), params)[0]
    if row.get("error"):
        print(f"  ERROR {row['error']}", file=sys.stderr)
        return 2
    ranked = ", ".join(f"{lb} ({s:.3f})" for lb, s in zip(row["labels"], row["scores"], strict=True))
    per_k = ", ".join(f"K={k}: {lb}" for k, lb in row["label_per_k"].items())
    print(f"  -> {ranked}")
    print(
        f"  top-{row['k']} pooling; {per_k}; tiles used {row['tiles_used']}, skipped {row['tiles_skipped']} "
        f"(level {row['level']}, {row['tile_px']} px at {row['mpp']:g} um/px)"
    )
    print(f"  heatmap -> {row['heatmap']}")
    return 0
