"""Users' data: turn a folder of ``.pose`` files plus a CSV of glosses into a clipzoo manifest.

The default columns follow ASL Citizen's split files (``Participant ID``, ``Video file``, ``Gloss``); the pose of a
video ``abc.mp4`` is ``<poses>/abc.pose`` (as pose-format's ``videos_to_poses`` names it). Sem-Lex and other
isolated-sign datasets fit by naming their columns. Output manifest columns: ``path`` (relative to the manifest),
``caption`` (``<en> <ase> <text>``), ``gloss``, ``text``, ``sign_lang``, ``spoken_lang``, ``signer``.

    clipzoo convert sign_language asl-citizen splits/train.csv train_manifest.csv --option poses=poses/
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from clipzoo.core.domain import Converter
from clipzoo.core.errors import InputError

from .demo_data import MANIFEST_COLUMNS, tagged

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConvertColumns:
    video: str = "Video file"
    gloss: str = "Gloss"
    signer: str | None = "Participant ID"
    text: str | None = None  # a column with the English text; by default the gloss made readable


def gloss_text(gloss: str) -> str:
    """``HOUSE2`` -> ``house``, ``THANK_YOU`` / ``thank-you`` -> ``thank you``: a gloss as plain English words."""
    text = re.sub(r"\d+$", "", str(gloss).strip())
    return re.sub(r"[_\-]+", " ", text).strip().lower()


def convert(
    table: str | Path,
    poses: str | Path,
    out: str | Path,
    columns: ConvertColumns = ConvertColumns(),
    sign_lang: str = "ase",
    spoken_lang: str = "en",
    skip_missing: bool = False,
) -> tuple[Path, int]:
    """Write the manifest ``out``; returns it and how many rows were skipped for a missing pose file.

    A row whose pose is missing raises ``InputError`` naming it, unless ``skip_missing`` (then it is logged).
    """
    table, poses, out = Path(table), Path(poses), Path(out)
    if not table.is_file():
        raise InputError("gloss table not found", table)
    if not poses.is_dir():
        raise InputError("pose folder not found", poses)
    try:
        frame = pd.read_csv(table)
    except Exception as err:
        raise InputError(f"cannot parse the gloss table: {err}", table) from err
    wanted = [c for c in (columns.video, columns.gloss, columns.signer, columns.text) if c]
    missing_cols = [c for c in wanted if c not in frame.columns]
    if missing_cols:
        raise InputError(f"gloss table lacks column(s) {missing_cols}; it has {list(frame.columns)}", table)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows, skipped = [], 0
    for i, row in frame.iterrows():
        pose = poses / (Path(str(row[columns.video])).stem + ".pose")
        if not pose.is_file():
            if not skip_missing:
                raise InputError(f"row {i + 2} ({row[columns.video]}): pose file not found", pose)
            skipped += 1
            log.warning("skipping row %d: %s not found", i + 2, pose)
            continue
        text = str(row[columns.text]) if columns.text else gloss_text(row[columns.gloss])
        signer = str(row[columns.signer]) if columns.signer else ""
        rel = os.path.relpath(pose.resolve(), out.parent.resolve())
        rows.append((rel, tagged(text, sign_lang, spoken_lang), str(row[columns.gloss]), text, sign_lang,
                     spoken_lang, signer))  # fmt: skip
    if not rows:
        raise InputError("no row has a pose file", table)
    tmp = out.with_name(f".{out.name}.tmp")
    pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)).to_csv(tmp, index=False)
    os.replace(tmp, out)
    return out, skipped


def asl_citizen(
    source: str,
    out: str,
    *,
    poses: str,
    video_column: str = "Video file",
    gloss_column: str = "Gloss",
    signer_column: str | None = "Participant ID",
    text_column: str | None = None,
    sign_lang: str = "ase",
    spoken_lang: str = "en",
    skip_missing: bool = False,
) -> str:
    """ASL Citizen (and Sem-Lex or other isolated-sign datasets by naming their columns): SOURCE is a CSV with one
    row per clip, the pose of video abc.mp4 is <poses>/abc.pose; OUT the manifest (.csv).

    Options: poses (the folder of .pose files; required); video_column (default "Video file"); gloss_column
    (default "Gloss"); signer_column (default "Participant ID"; "" or null for none); text_column (English text;
    default the gloss made readable); sign_lang (default "ase"); spoken_lang (default "en"); skip_missing (true:
    leave out rows whose pose file is missing; default false).
    """
    columns = ConvertColumns(str(video_column), str(gloss_column), signer_column or None, text_column or None)
    written, skipped = convert(source, poses, out, columns, str(sign_lang), str(spoken_lang), skip_missing)
    return f"wrote {written} ({skipped} row(s) skipped for a missing pose)"


CONVERTERS: dict[str, Converter] = {
    c.name: c
    for c in (
        Converter("asl-citizen", asl_citizen, "ASL Citizen-like split CSV (video, gloss, signer) + .pose folder"),
    )
}
