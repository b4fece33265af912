"""A product catalogue on disk: the faiss index of its products' embeddings, their titles, and the stamp of the model
that embedded them, so a query is only ever answered with the model the catalogue was built by.

The folder holds ``index.faiss``, ``ids.json``, ``meta.json`` (``index.py``), ``titles.json`` (when the manifest has a
``title`` column) and ``catalogue.json`` (written last: the model stamp, the manifest, the product count).

``python -m clipzoo.domains.fashion.catalogue build MODEL MANIFEST OUT [--kind flat|ivf|hnsw]`` builds one with a
registered model; ``clipzoo predict MODEL [IMAGE...] [--text T] --task search --catalogue OUT`` searches it (text,
image, or image + modification text), as does the served model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from clipzoo.core.data import Manifest
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError, exit_code_for_input_errors
from clipzoo.core.evaluate import encode_manifest
from clipzoo.core.model import ClipModel
from torch import nn

from .index import KINDS, IndexParams, ProductIndex
from .triplets import product_rows

CATALOGUE_FILE = "catalogue.json"
TITLES_FILE = "titles.json"
FORMAT_VERSION = 1
BUILD_HINT = "python -m clipzoo.domains.fashion.catalogue build MODEL MANIFEST FOLDER"


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
        cls, clip: ClipModel, manifest: Manifest, params: IndexParams | None = None, model_ref: str | None = None
    ) -> Catalogue:
        """Embed every product of ``manifest`` (its ``product_id`` column names them) and index them."""
        if len(manifest) == 0:
            raise InputError("the catalogue is empty: the manifest has no products", manifest.source)
        ids = list(product_rows(manifest))
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


def _build(args: argparse.Namespace) -> int:
    from clipzoo.registry.catalog import resolve
    from clipzoo.registry.loading import load_clip

    ref = resolve(args.model)  # pin the version: the catalogue is only valid for the model that made it
    clip = load_clip(ref.uri)
    params = IndexParams(kind=args.kind, nlist=args.nlist, nprobe=args.nprobe, ef_search=args.ef_search)
    label = f"{ref.name}/{ref.version}" if ref.version else ref.uri
    catalogue = Catalogue.build(clip, Manifest.read(args.manifest, require_caption=False), params, model_ref=label)
    catalogue.save(args.out)
    print(f"indexed {len(catalogue)} products ({args.kind}) with {label} into {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clipzoo.domains.fashion.catalogue", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="embed a manifest's products and save the catalogue folder")
    b.add_argument("model", help="registered model (name, name@alias, name/version, run id)")
    b.add_argument("manifest", help="manifest with path and product_id columns (title: shown as the label)")
    b.add_argument("out", help="catalogue folder")
    b.add_argument("--kind", choices=KINDS, default="flat", help="flat = exact; ivf/hnsw = approximate")
    b.add_argument("--nlist", type=int, default=None)
    b.add_argument("--nprobe", type=int, default=IndexParams.nprobe)
    b.add_argument("--ef-search", type=int, default=IndexParams.ef_search)
    args = parser.parse_args(argv)
    from clipzoo.registry.tracking import configure

    configure()
    return exit_code_for_input_errors(lambda: _build(args))


if __name__ == "__main__":
    sys.exit(main())
