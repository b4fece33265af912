"""Manifests in CSV, JSONL and Parquet; relative paths; unreadable rows named; WebDataset shards round-trip."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from clipzoo.core.data import Manifest, ManifestDataset
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.sampler import ResumableSampler
from clipzoo.core.shards import ShardDataset, write_shards


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_manifest_formats_resolve_relative_paths(fmt, image_demo, tmp_path):
    frame = pd.read_csv(image_demo.train).head(5)
    shutil.copytree(Path(image_demo.train).parent / "images", tmp_path / "images")
    path = tmp_path / f"m.{fmt}"
    {
        "csv": lambda: frame.to_csv(path, index=False),
        "jsonl": lambda: frame.to_json(path, orient="records", lines=True),
        "parquet": lambda: frame.to_parquet(path),
    }[fmt]()
    manifest = Manifest.read(path)
    assert len(manifest) == 5 and manifest.captions() == frame["caption"].tolist()
    assert manifest.file(0) == tmp_path / frame["path"][0] and manifest.file(0).is_file()
    domain = get_domain("image")
    spec = domain.default_spec()
    sample = ManifestDataset(manifest, domain, domain.transform(spec, train=False))[0]
    assert sample["input"].shape == (3, spec.image_size, spec.image_size)


def test_unreadable_row_names_row_and_file(image_demo, tmp_path):
    frame = pd.read_csv(image_demo.train).head(3)
    frame["path"] = [str(Path(image_demo.train).parent / p) for p in frame["path"]]
    frame.loc[2, "path"] = str(tmp_path / "gone.png")
    path = tmp_path / "m.csv"
    frame.to_csv(path, index=False)
    domain = get_domain("image")
    ds = ManifestDataset(Manifest.read(path), domain, domain.transform(domain.default_spec(), train=False))
    ds[0]
    with pytest.raises(InputError, match=rf"row 3.*{tmp_path / 'gone.png'}: file not found"):
        ds[2]


def test_manifest_errors(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(InputError, match="unsupported manifest type"):
        Manifest.read(tmp_path / "a.txt")
    (tmp_path / "b.csv").write_text("path,caption\n")
    with pytest.raises(InputError, match="no rows"):
        Manifest.read(tmp_path / "b.csv")


def test_sampler_shards_global_batches_across_ranks_and_resumes():
    single = list(ResumableSampler(40, 8, seed=3))
    ranks = [list(ResumableSampler(40, 8, seed=3, rank=r, world_size=2)) for r in (0, 1)]
    for step in range(5):
        batch = single[step * 8 : (step + 1) * 8]
        assert ranks[0][step * 4 : (step + 1) * 4] + ranks[1][step * 4 : (step + 1) * 4] == batch
    resumed = ResumableSampler(40, 8, seed=3)
    resumed.set_position(0, 2)
    assert list(resumed) == single[16:]
    other_epoch = ResumableSampler(40, 8, seed=3)
    other_epoch.set_position(1, 0)
    assert [i for i, _ in other_epoch] != [i for i, _ in single]


def test_webdataset_shards_round_trip(image_demo, tmp_path):
    manifest = Manifest.read(image_demo.train)
    shards = write_shards(manifest, tmp_path / "shards" / "train-%04d.tar", max_count=40)
    assert len(shards) == -(-len(manifest) // 40) and all(p.is_file() for p in shards)
    domain = get_domain("image")
    transform = domain.transform(domain.default_spec(), train=False)
    streamed = list(ShardDataset([str(p) for p in shards], domain, transform))
    assert [s["caption"] for s in streamed] == manifest.captions()
    direct = ManifestDataset(manifest, domain, transform)
    assert torch.equal(streamed[7]["input"], direct[7]["input"])


def test_training_from_shards_equals_training_from_the_manifest(tiny_spec, image_demo, tmp_path):
    """Random access into shards: same samples, same per-sample augmentation seeds, so the same weights."""
    from clipzoo.core.model import build_model
    from clipzoo.core.shards import IndexedShards
    from clipzoo.core.train import TrainConfig, Trainer

    manifest = Manifest.read(image_demo.train)
    write_shards(manifest, tmp_path / "shards" / "train-%04d.tar", max_count=40)
    domain = get_domain("image")
    transform = domain.transform(tiny_spec, train=True)
    shards = IndexedShards(tmp_path / "shards", domain, transform)
    assert len(shards) == len(manifest) and shards.captions == manifest.captions()

    def weights_after_training(dataset, out):
        torch.manual_seed(0)
        trainer = Trainer(build_model(tiny_spec), domain, dataset, TrainConfig(batch_size=16, max_steps=3), out)
        trainer.fit()
        return trainer.clip.model.state_dict()

    from_manifest = weights_after_training(ManifestDataset(manifest, domain, transform), tmp_path / "a")
    from_shards = weights_after_training(shards, tmp_path / "b")
    for name, value in from_manifest.items():
        assert torch.equal(value, from_shards[name]), name


def test_a_broken_shard_or_an_empty_folder_is_named(tmp_path):
    from clipzoo.core.shards import IndexedShards

    bad = tmp_path / "train-0000.tar"
    bad.write_bytes(b"this is not a tar archive" * 40)
    with pytest.raises(InputError, match=r"train-0000\.tar"):
        IndexedShards(bad, get_domain("image"), lambda x: x)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"no \.tar shards"):
        IndexedShards(empty, get_domain("image"), lambda x: x)
