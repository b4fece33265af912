"""The zoo catalogue as data: the published checkpoints of a domain, each with its metadata (like torchgeo's weight
enums: every weight carries its source, format, architecture, preprocessing, licence and paper with it).

A domain lists its entries in ``zoo.json`` beside its package (``Domain.zoo()`` reads it); ``clipzoo zoo list``
shows them and ``clipzoo import NAME --domain D`` imports one by name. Reported numbers are the publishers' own,
each with where it is reported; an entry leaves a number out rather than guess it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .files import check_keys, read_named_entries

HF_HUB = "hf-hub:"
OPEN_CLIP_HUB = "open_clip"  # an hf-hub repo holding open_clip_config.json + weights
TRANSFORMERS = "transformers"  # an hf-hub repo holding a transformers CLIPModel and its processor
STATE_DICT = "open_clip-state-dict"  # a bare state-dict file for an open_clip architecture
OTHER = "other"  # needs its own code: listed, not importable
FORMATS = (OPEN_CLIP_HUB, TRANSFORMERS, STATE_DICT, OTHER)


@dataclass(frozen=True)
class ReportedResult:
    """A zero-shot number a checkpoint's publishers report, and where."""

    task: str
    metric: str
    value: float
    source: str


@dataclass(frozen=True)
class ZooEntry:
    """One published checkpoint. ``source`` is ``hf-hub:<org/repo>``; a ``open_clip-state-dict`` entry names the
    file in that repo (``file``) and the open_clip ``architecture`` it fits."""

    name: str
    domain: str
    title: str
    source: str
    format: str
    licence: str | None = None  # None: not stated here, read the source's model card
    licence_url: str | None = None
    restrictions: tuple[str, ...] = ()  # e.g. "non-commercial", "no redistribution", "gated"
    paper: str | None = None
    citation: str | None = None
    architecture: str | None = None
    file: str | None = None
    preprocess: dict[str, Any] = field(default_factory=dict)  # for files that carry none (state dicts)
    reported: tuple[ReportedResult, ...] = ()
    importable: bool = True
    why_not: str | None = None
    notes: str | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise InputError(f"zoo entry {self.name!r}: format must be one of {FORMATS}, got {self.format!r}")
        if self.format == STATE_DICT and not (self.file and self.architecture):
            raise InputError(f"zoo entry {self.name!r}: a state-dict entry names its file and architecture")
        if not self.importable and not self.why_not:
            raise InputError(f"zoo entry {self.name!r}: say why it is not importable")

    @property
    def repo(self) -> str | None:
        return self.source[len(HF_HUB) :] if self.source.startswith(HF_HUB) else None

    @property
    def licence_text(self) -> str:
        text = self.licence or "not stated here: read the model card"
        return text + (f" ({', '.join(self.restrictions)})" if self.restrictions else "")

    @classmethod
    def from_dict(cls, data: dict[str, Any], domain: str) -> ZooEntry:
        check_keys(cls, data, "zoo entry")
        data = {**data, "domain": domain}
        data["restrictions"] = tuple(data.get("restrictions", ()))
        data["reported"] = tuple(ReportedResult(**r) for r in data.get("reported", ()))
        return cls(**data)


def load_zoo(path: str | Path, domain: str) -> list[ZooEntry]:
    """The entries of one domain's ``zoo.json`` (a list of objects), in file order."""
    return [ZooEntry.from_dict(row, domain) for row in read_named_entries(path, "zoo entry")]
