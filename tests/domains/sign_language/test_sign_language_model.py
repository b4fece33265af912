"""Transforms, padded batches, the pose tower and the sign-language metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from clipzoo.core.data import seeded
from clipzoo.core.domain import get_domain
from clipzoo.core.model import build_model
from clipzoo.domains.sign_language.layouts import CANONICAL, LAYOUTS, LEFT_HAND, RIGHT_HAND, subset_indices
from clipzoo.domains.sign_language.reader import PoseSequence
from clipzoo.domains.sign_language.tasks import few_shot_accuracy, knn_predict, sign_prompt_pack
from clipzoo.domains.sign_language.tower import PoseSequenceEncoder
from clipzoo.domains.sign_language.transforms import collate_poses, flip, resample


def sequence(frames: int, fps: float = 25.0, seed: int = 0) -> PoseSequence:
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 0.5, (frames, CANONICAL.num_points, 3)).astype(np.float32)
    return PoseSequence(data=data, mask=np.ones(data.shape[:2], bool), fps=fps, source=f"seq{seed}")


def test_collate_pads_and_masks():
    batch = collate_poses([torch.ones(3, 6), torch.ones(5, 6) * 2])
    assert batch["poses"].shape == (2, 5, 6) and batch["mask"].tolist() == [[1, 1, 1, 0, 0], [1] * 5]
    assert batch["poses"][0, 3:].abs().sum() == 0


def test_padded_batch_encodes_each_sequence_as_alone():
    torch.manual_seed(0)
    encoder = PoseSequenceEncoder(input_dim=12, embed_dim=8, width=16, layers=2, heads=2, max_frames=32).eval()
    seqs = [torch.randn(n, 12) for n in (4, 9, 17)]
    with torch.no_grad():
        batched = encoder(collate_poses(seqs))
        alone = torch.cat([encoder(collate_poses([s])) for s in seqs])
        unpadded_tensor = encoder(seqs[1][None])  # a bare [B, T, D] tensor means every frame is real
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(unpadded_tensor[0], alone[1], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="33 frames exceed"):
        encoder(torch.randn(1, 33, 12))


def test_default_spec_builds_the_pose_tower_and_locks_it():
    domain = get_domain("sign_language")
    spec = domain.default_spec()
    clip = build_model(spec.replace(lock_image=True))
    assert isinstance(clip.model.visual, PoseSequenceEncoder) and clip.model.visual.input_dim == 609
    assert not any(p.requires_grad for p in clip.model.visual.parameters())
    x = domain.transform(spec, train=False)(sequence(40))
    emb = clip.model.encode_image(domain.collate([x, x[:20]]), normalize=True)
    assert emb.shape == (2, spec.embed_dim) and torch.isfinite(emb).all()


def test_reduced_layout_spec_selects_its_178_points():
    domain = get_domain("sign_language")
    spec = domain.default_spec()
    spec = spec.replace(extra={**spec.extra, "layout": "reduced178", "fps": None})
    seq = sequence(10)
    x = domain.transform(spec, train=False)(seq)
    assert x.shape == (10, 534)
    np.testing.assert_array_equal(x.numpy(), seq.data[:, subset_indices(LAYOUTS["reduced178"])].reshape(10, -1))
    assert build_model(spec).model.visual.input_dim == 534


def test_fps_resampling_and_seeded_training_augmentation():
    domain = get_domain("sign_language")
    spec = domain.default_spec()  # 12.5 fps
    seq = sequence(60, fps=30.0)
    assert domain.transform(spec, train=False)(seq).shape[0] == 25
    train = domain.transform(spec, train=True)
    with seeded(7):
        a = train(seq)
    with seeded(7):
        b = train(seq)
    with seeded(8):
        c = train(seq)
    torch.testing.assert_close(a, b)
    assert a.shape != c.shape or not torch.equal(a, c)


def test_resample_interpolates_linearly_and_drops_half_seen_points():
    data = np.arange(3, dtype=np.float32)[:, None, None] * np.ones((3, 2, 3), np.float32)
    mask = np.ones((3, 2), bool)
    mask[2, 1] = False
    out, out_mask = resample(data, mask, 5)
    np.testing.assert_allclose(out[:, 0, 0], [0, 0.5, 1, 1.5, 2])
    assert out_mask[:, 1].tolist() == [True, True, True, False, False] and out[3:, 1].sum() == 0


def test_flip_mirrors_x_and_swaps_hands_and_is_an_involution():
    seq = sequence(4)
    mirror = CANONICAL.mirror
    flipped, _ = flip(seq.data, seq.mask, mirror)
    right, left = CANONICAL.index[(RIGHT_HAND, "THUMB_TIP")], CANONICAL.index[(LEFT_HAND, "THUMB_TIP")]
    np.testing.assert_allclose(flipped[:, left], seq.data[:, right] * [-1, 1, 1])
    twice, _ = flip(*flip(seq.data, seq.mask, mirror), mirror)
    np.testing.assert_allclose(twice, seq.data)
    assert sorted(mirror.tolist()) == list(range(CANONICAL.num_points))


def test_few_shot_knn_separates_clusters_and_skips_thin_classes():
    rng = np.random.default_rng(0)
    centres = torch.nn.functional.normalize(torch.randn(4, 16), dim=-1)
    labels = [f"c{i}" for i in range(4) for _ in range(12)]
    feats = torch.nn.functional.normalize(centres.repeat_interleave(12, 0) + 0.05 * torch.randn(48, 16), dim=-1)
    out = few_shot_accuracy(feats, labels, shots=(1, 5, 10, 12), episodes=3)
    assert out["fewshot_1shot_top1"] == 1.0 and out["fewshot_10shot_top1"] == 1.0
    assert "fewshot_12shot_top1" not in out  # no class has 13 clips
    noise = torch.nn.functional.normalize(torch.from_numpy(rng.normal(size=(48, 16))).float(), dim=-1)
    assert few_shot_accuracy(noise, labels, shots=(5,), episodes=5)["fewshot_5shot_top1"] < 0.6
    support = np.eye(3, dtype=np.float32)
    assert knn_predict(support, np.array([0, 1, 2]), np.array([[0.1, 0.9, 0.0]], np.float32)).tolist() == [1]


def test_zero_shot_pack_covers_glosses_the_demo_pack_does_not_know():
    base = get_domain("sign_language").prompt_packs()["sign"]
    pack = sign_prompt_pack(["HELLO", "APPLE", "APPLE", "HOUSE"], ["hi", "apple", "apples", "home"], base)
    assert pack.class_names == ["HELLO", "APPLE", "HOUSE"]
    assert pack.classes["HELLO"] == ("hello", "hi") and pack.classes["APPLE"] == ("apple", "apples")
    assert pack.prompts("APPLE")[0] == "<en> <ase> the sign for apple."
