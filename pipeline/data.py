"""The data a job reads: a domain's demo data, training data (a manifest or WebDataset shards), held-out manifests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clipzoo.core.data import Manifest, ManifestDataset
from clipzoo.core.domain import DemoData, Domain
from clipzoo.core.shards import IndexedShards, is_shard_location
from clipzoo.core.spec import ModelSpec
from clipzoo.registry.package import sha256_file
from clipzoo.registry.tracking import clipzoo_home

DEMO = "demo"  # ``--data demo``: the domain's demo data, written on first use


def demo_data(domain: Domain, small: bool = False, seed: int = 0) -> DemoData:
    """The domain's demo data under the clipzoo folder (written once, then reused)."""
    root = clipzoo_home() / "demo-data" / (f"{domain.name}-small" if small else domain.name)
    return domain.write_demo_data(root, seed=seed, small=small)


@dataclass
class TrainingData:
    """The training set (a manifest's rows, or WebDataset shards read by random access) and how to name it."""

    dataset: ManifestDataset | IndexedShards
    source: Path
    rows: int
    digest: str

    def describe(self) -> str:
        return f"{self.source} ({self.rows} samples, sha256 {self.digest[:16]})"


def training_data(domain: Domain, spec: ModelSpec, data: str | Path) -> TrainingData:
    """A manifest or shards, read through the domain with its training transform."""
    transform = domain.transform(spec, train=True)
    if is_shard_location(str(data)):
        shards = IndexedShards(str(data), domain, transform)
        return TrainingData(shards, shards.source, len(shards), shards.digest())
    manifest = Manifest.read(data)
    return TrainingData(
        ManifestDataset(manifest, domain, transform), manifest.source, len(manifest), sha256_file(manifest.source)
    )
