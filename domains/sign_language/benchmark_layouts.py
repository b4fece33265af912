"""ASL Citizen (Desai et al., NeurIPS 2023 Datasets and Benchmarks) as published, for isolated-sign recognition.

The release holds ``splits/{train,val,test}.csv`` (``Participant ID``, ``Video file``, ``Gloss``, ``ASL-LEX Code``)
and ``videos/<Video file>``; clipzoo reads poses, so the videos are first turned into ``poses/<stem>.pose`` (pose-
format's ``videos_to_poses`` naming). The manifest is the ``asl-citizen`` converter's: ``path``, ``caption``,
``gloss``, ``text`` (the gloss made readable), ``sign_lang``, ``spoken_lang``, ``signer``.
"""

from __future__ import annotations

from pathlib import Path

from clipzoo.core.domain import Converter
from clipzoo.core.errors import InputError
from clipzoo.core.files import read_table

from .convert import ConvertColumns, convert

ASL_CITIZEN_SPLITS = ("train", "val", "test")
ASL_CITIZEN_COLUMNS = ("Participant ID", "Video file", "Gloss", "ASL-LEX Code")


def asl_citizen_release(
    source: str, out: str, *, split: str = "test", poses: str = "poses", skip_missing: bool = False
) -> str:
    """ASL Citizen release folder: SOURCE holds splits/<split>.csv and the poses of its videos (<poses>/<stem>.pose,
    made from videos/<Video file>); OUT the manifest (.csv).

    Options: split ("test", the default, "val" or "train"); poses (the pose folder under SOURCE, default "poses");
    skip_missing (true: leave out clips whose pose is missing; default false).
    """

    if split not in ASL_CITIZEN_SPLITS:
        raise InputError(f"option split must be one of {list(ASL_CITIZEN_SPLITS)}, got {split!r}")
    root = Path(source)
    table = root / "splits" / f"{split}.csv"
    if not table.is_file():
        raise InputError(f"ASL Citizen split file not found (expected splits/{split}.csv under {root})", table)
    found = list(read_table(table, "ASL Citizen split file", nrows=0).columns)
    missing = [c for c in ASL_CITIZEN_COLUMNS if c not in found]
    if missing:
        raise InputError(f"ASL Citizen split file lacks column(s) {missing}; it has {found}", table)
    written, skipped = convert(table, root / poses, out, ConvertColumns(), skip_missing=skip_missing)
    return f"wrote {written} ({skipped} clip(s) skipped for a missing pose)"


BENCHMARK_CONVERTERS: tuple[Converter, ...] = (
    Converter(
        "asl-citizen-release",
        asl_citizen_release,
        "ASL Citizen release: splits/<split>.csv + poses/<video stem>.pose",
    ),
)
