"""A product catalogue on disk: the faiss index of its products' embeddings, their titles, and the stamp of the model
that embedded them, so a query is only ever answered with the model the catalogue was built by.

The folder holds ``index.faiss``, ``ids.json``, ``meta.json`` (``index.py``), ``titles.json`` (when the manifest has a
``title`` column) and ``catalogue.json`` (written last: the model stamp, the manifest, the product count).

``clipzoo catalogue build MODEL MANIFEST OUT [--option kind=flat|ivf|hnsw ...]`` builds one with a registered
model (``build_catalogue``); ``clipzoo predict MODEL [IMAGE...] [--text T] --task search --catalogue OUT`` searches
it (text, image, or image + modification text), as does the served model.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from clipzoo.core.data import Manifest
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.evaluate import encode_manifest
from clipzoo.core.model import ClipModel
from torch import nn

from .index import KINDS, IndexParams, ProductIndex
from .triplets import product_rows

CATALOGUE_FILE = "catalogue.json"
TITLES_FILE = "titles.json"
FORMAT_VERSION = 1
BUILD_HINT = "clipzoo catalogue build MODEL MANIFEST FOLDER"


def towers_sha256(model: nn.Module) -> str:
    """sha256 of every weight that shapes an embedding (names, dtypes, shapes, bytes), the Combiner left out: it
    changes composed queries, never the products' embeddings, so retraining it keeps a catalogue valid."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if name.startswith("combiner."):
            continue
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelStamp:
    """Which model embedded a catalogue: its registry reference when known, its spec, and a hash of its towers."""

    ref: str | None
    spec: str
    domain: str
    embed_dim: int
    towers_sha256: str

    @classmethod
    def of(cls, clip: ClipModel, ref: str | None = None, towers: str | None = None) -> ModelStamp:
        return cls(ref, clip.spec.name, clip.spec.domain, clip.spec.embed_dim, towers or towers_sha256(clip.model))

    def describe(self) -> str:
        return f"{self.ref or 'an unregistered model'} (spec {self.spec!r}, {self.embed_dim}-d)"


class Catalogue:
    """Products' ids, titles and faiss index, with the stamp of the model that embedded them."""

    def __init__(self, index: ProductIndex, stamp: ModelStamp, titles: list[str] | None = None, manifest: str = ""):
        if stamp.embed_dim != index.dim:
            raise InputError(f"the catalogue's model embeds in {stamp.embed_dim}-d but its index holds {index.dim}-d")
        if titles is not None and len(titles) != len(index):
            raise InputError(f"{len(titles)} titles for {len(index)} products")
        self.index, self.stamp, self.titles, self.manifest = index, stamp, titles, manifest
        self.default_search = {"nprobe": index.params.nprobe, "ef_search": index.params.ef_search}

    def __len__(self) -> int:
        return len(self.index)

    @classmethod
    def build(
        cls,
        clip: ClipModel,
        manifest: Manifest,
        params: IndexParams | None = None,
        model_ref: str | None = None,
        embeddings: str | Path | None = None,
    ) -> Catalogue:
        """Embed every product of ``manifest`` (its ``product_id`` column names them) and index them; with
        ``embeddings``, read their embeddings from that folder of Parquet files instead (``clipzoo embed``)."""
        if len(manifest) == 0:
            raise InputError("the catalogue is empty: the manifest has no products", manifest.source)
        ids = list(product_rows(manifest))
        if embeddings is not None:
            features = stored_embeddings(Path(embeddings), ids, clip)
        else:
            features = encode_manifest(clip, get_domain(clip.spec.domain), manifest)
        titles = manifest.frame["title"].astype(str).tolist() if "title" in manifest.frame.columns else None
        index = ProductIndex.build(features.numpy(), ids, params or IndexParams())
        return cls(index, ModelStamp.of(clip, model_ref), titles, str(manifest.source))

    def save(self, folder: str | Path) -> Path:
        """Write the folder; ``catalogue.json`` goes last, so a half-written folder is never taken for a catalogue."""
        folder = Path(folder)
        (folder / CATALOGUE_FILE).unlink(missing_ok=True)
        self.index.save(folder)
        if self.titles is not None:
            (folder / TITLES_FILE).write_text(json.dumps(self.titles))
        else:
            (folder / TITLES_FILE).unlink(missing_ok=True)
        info = {"format": FORMAT_VERSION, "model": asdict(self.stamp), "manifest": self.manifest, "count": len(self)}
        tmp = folder / f".{CATALOGUE_FILE}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(info, indent=2))
        os.replace(tmp, folder / CATALOGUE_FILE)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Catalogue:
        folder = Path(folder)
        if not folder.is_dir():
            raise InputError("catalogue folder not found", folder)
        if not (folder / CATALOGUE_FILE).is_file():
            raise InputError(f"not a product catalogue (no {CATALOGUE_FILE}); build one with `{BUILD_HINT}`", folder)
        try:
            info = json.loads((folder / CATALOGUE_FILE).read_text())
            stamp = ModelStamp(**info["model"])
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise InputError(f"unreadable {CATALOGUE_FILE}: {err}", folder) from err
        if info.get("format") != FORMAT_VERSION:
            raise InputError(f"catalogue format {info.get('format')!r}; this clipzoo reads {FORMAT_VERSION}", folder)
        index = ProductIndex.load(folder)
        if info.get("count") != len(index):
            raise InputError(f"{CATALOGUE_FILE} lists {info.get('count')} products, the index {len(index)}", folder)
        titles_file = folder / TITLES_FILE
        titles = json.loads(titles_file.read_text()) if titles_file.is_file() else None
        return cls(index, stamp, titles, str(info.get("manifest", "")))

    def check_model(self, clip: ClipModel, towers: str | None = None, where: str | Path | None = None) -> None:
        """Refuse a model other than the one that embedded the catalogue (``towers``: its precomputed hash)."""
        if clip.spec.embed_dim != self.stamp.embed_dim:
            raise InputError(
                f"the catalogue was built by {self.stamp.describe()}, but this model embeds in {clip.spec.embed_dim}-d;"
                f" rebuild it with this model (`{BUILD_HINT}`)",
                where,
            )
        if (towers or towers_sha256(clip.model)) != self.stamp.towers_sha256:
            raise InputError(
                f"the catalogue was built by another model, {self.stamp.describe()}, towers sha256 "
                f"{self.stamp.towers_sha256[:12]}; this model's weights differ. Search it with that model or rebuild "
                f"it with this one (`{BUILD_HINT}`)",
                where,
            )

    def label(self, product_id: str, row: int) -> str:
        return self.titles[row] if self.titles is not None else product_id

    def tune(self, options: dict[str, Any]) -> None:
        """Apply a request's search settings (``nprobe`` for ivf, ``ef_search`` for hnsw), else the built ones."""
        unknown = sorted(set(options) - set(self.default_search))
        if unknown:
            raise InputError(f"unknown search option(s) {unknown}; the search task takes {sorted(self.default_search)}")
        settings = {**self.default_search, **options}
        for key, value in settings.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"search option {key!r} must be a positive integer, got {value!r}")
        self.index.params.nprobe, self.index.params.ef_search = settings["nprobe"], settings["ef_search"]
        self.index.set_search_params()


BUILD_OPTIONS = ("kind", "nlist", "nprobe", "ef_search", "embeddings")


def stored_embeddings(folder: Path, ids: list[str], clip: ClipModel) -> torch.Tensor:
    """The products' embeddings from Parquet files written by ``clipzoo embed ... --key-column product_id``, in
    ``ids`` order; refused unless every product is there, without error, embedded by this model's weights."""
    import pandas as pd

    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        raise InputError("no Parquet embeddings here (write them with `clipzoo embed MODEL --key-column product_id`)",
                         folder)  # fmt: skip
    frame = pd.concat([pd.read_parquet(f, columns=["key", "embedding", "error", "weights_sha256"]) for f in files])
    if clip.weights_sha256 is None or set(frame["weights_sha256"]) != {clip.weights_sha256}:
        raise InputError("these embeddings were made by another model's weights: embed with this model", folder)
    rows = frame.drop_duplicates("key", keep="last").set_index("key")
    missing = [i for i in ids if i not in rows.index]
    if missing:
        raise InputError(f"{len(missing)} product(s) have no embedding, e.g. {missing[:3]}", folder)
    failed = rows.loc[ids, "error"].dropna()
    if len(failed):
        raise InputError(f"{len(failed)} product(s) could not be embedded, e.g. {list(failed.index[:3])}", folder)
    return torch.tensor(np.stack(rows.loc[ids, "embedding"].to_numpy()), dtype=torch.float32)


def _index_params(options: dict[str, Any]) -> IndexParams:
    """``IndexParams`` from a build's options (``kind``, ``nlist``, ``nprobe``, ``ef_search``), each checked."""
    unknown = sorted(set(options) - set(BUILD_OPTIONS))
    if unknown:
        raise InputError(f"unknown catalogue option(s) {unknown}; accepted: {list(BUILD_OPTIONS)}")
    kind = options.get("kind", "flat")
    if kind not in KINDS:
        raise InputError(f"catalogue option kind must be one of {list(KINDS)}, got {kind!r}")
    defaults = IndexParams()
    options = {k: v for k, v in options.items() if k != "embeddings"}
    settings = {"nlist": options.get("nlist"), "nprobe": options.get("nprobe", defaults.nprobe),
                "ef_search": options.get("ef_search", defaults.ef_search)}  # fmt: skip
    for key, value in settings.items():
        if value is None and key == "nlist":
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(f"catalogue option {key} must be a positive integer, got {value!r}")
    return IndexParams(kind=kind, **settings)


def build_catalogue(clip: ClipModel, manifest: Manifest, folder: Path, model_ref: str, options: dict[str, Any]) -> str:
    """Embed ``manifest``'s products with ``clip`` (registered as ``model_ref``, a pinned ``name/version``), index
    them and save the catalogue to ``folder``; returns a one-line summary.

    Options: ``kind`` (``flat``, exact, the default; ``ivf`` or ``hnsw``, approximate), ``nlist`` (ivf lists;
    default from the product count), ``nprobe`` (ivf lists searched, default 16), ``ef_search`` (hnsw, default 64),
    ``embeddings`` (a folder of Parquet embeddings from ``clipzoo embed``: no re-encoding).
    """
    params = _index_params(options)
    embeddings = options.get("embeddings")
    catalogue = Catalogue.build(clip, manifest, params, model_ref=model_ref, embeddings=embeddings)
    catalogue.save(folder)
    how = f"read from {embeddings}" if embeddings else "encoded"
    return f"indexed {len(catalogue)} products ({params.kind}, embeddings {how}) with {model_ref} into {folder}"
