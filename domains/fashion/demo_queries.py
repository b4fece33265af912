"""The fashion demo's last step: the held-out products saved as a catalogue folder and searched through the
registered model's predict path (what ``clipzoo predict --task search`` and the server run): a text, an image and a
composed query."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pandas as pd
from clipzoo.core.data import Manifest
from clipzoo.core.domain import DemoData, DemoQuery
from clipzoo.core.model import ClipModel

from .catalogue import Catalogue
from .search import TASK
from .triplets import triplets_path_for

TEXT_QUERY = "blue striped dress"


def search_queries(demo: DemoData, clip: ClipModel, ref: str, workdir: Path) -> list[DemoQuery]:
    manifest = Manifest.read(demo.heldout)
    folder = workdir / "catalogues" / f"demo-{demo.heldout.parent.name}"
    Catalogue.build(clip, manifest, model_ref=ref).save(folder)
    products = manifest.frame.set_index("product_id")
    trip = pd.read_csv(triplets_path_for(demo.heldout), dtype=str).iloc[0]
    reference = str(demo.heldout.parent / products.loc[trip["reference"], "path"])
    image = str(manifest.file(0))
    first = str(manifest.frame["product_id"][0])

    def describe(pid: str) -> str:
        row = products.loc[pid]
        return f"{pid} ({row['colour']} {row['pattern']} {row['category']})"

    def results(target: str | None):
        def lines(row: dict[str, Any]) -> list[str]:
            return [
                f"    {describe(pid)}  {score:.3f}" + ("  <- target" if pid == target else "")
                for pid, score in zip(row["ids"], row["scores"], strict=True)
            ]

        return lines

    base = f"clipzoo predict {ref} --task {TASK} --catalogue {shlex.quote(str(folder))} --top-k 5"
    params = {"task": TASK, "catalogue": str(folder), "top_k": 5}
    intro = f"catalogue search with {ref} over {len(manifest)} held-out products, catalogue folder {folder}:\n"
    return [
        DemoQuery(
            {"text": [TEXT_QUERY]}, params, f"{base} --text {shlex.quote(TEXT_QUERY)}", results(None),
            header=f'{intro}  text "{TEXT_QUERY}":',
        ),
        DemoQuery(
            {"path": [image]}, params, f"{base} {shlex.quote(image)}", results(first),
            header=f"  image {describe(first)}:",
        ),
        DemoQuery(
            {"path": [reference], "text": [trip["modification"]]}, params,
            f"{base} {shlex.quote(reference)} --text {shlex.quote(trip['modification'])}", results(trip["target"]),
            header=f'  composed: {describe(trip["reference"])} + "{trip["modification"]}":',
        ),
    ]  # fmt: skip
