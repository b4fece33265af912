"""Reading .pose files and keypoint arrays: equal to pose-format's own pipeline, any layout, bad input named."""

from __future__ import annotations

import logging

import numpy as np
import numpy.ma as ma
import pytest
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.domains.sign_language.layouts import (
    BODY,
    CANONICAL,
    FULL_FACE,
    LAYOUTS,
    LEFT_HAND,
    RIGHT_HAND,
    header_slots,
    holistic_header,
    subset_indices,
)
from clipzoo.domains.sign_language.reader import read_sequence
from pose_format import Pose
from pose_format.numpy import NumPyPoseBody
from pose_format.utils.generic import fake_openpose_pose, pose_hide_legs, pose_normalization_info

from tests.conftest import SHARED_DATA

REAL = SHARED_DATA / "sign_language" / "mediapipe.pose"
needs_real = pytest.mark.skipif(not REAL.is_file(), reason="../shared/data/sign_language/mediapipe.pose is absent")


def pose_format_reference(pose: Pose) -> tuple[np.ndarray, np.ndarray]:
    """pose-format alone: normalise by the shoulders, hide the legs; first person, missing points as 0."""
    pose.normalize(pose_normalization_info(pose.header))
    pose = pose_hide_legs(pose)
    data = pose.body.data[:, 0]
    observed = ~ma.getmaskarray(data).any(-1) & (pose.body.confidence[:, 0] > 0)
    return np.where(observed[..., None], data.filled(0), 0), observed


def assert_matches_reference(seq, pose: Pose) -> None:
    ref, observed = pose_format_reference(pose)
    slots = header_slots(pose.header)
    dims = ref.shape[-1]
    checked = 0
    for i, slot in enumerate(slots):
        j = CANONICAL.index.get(slot) if slot else None
        if j is None:
            continue
        np.testing.assert_allclose(seq.data[:, j, :dims], ref[:, i], rtol=1e-5, atol=1e-5, err_msg=str(slot))
        np.testing.assert_array_equal(seq.mask[:, j], observed[:, i], err_msg=str(slot))
        checked += 1
    assert checked > 0


def write(pose: Pose, path) -> None:
    with open(path, "wb") as f:
        pose.write(f)


@needs_real
def test_real_mediapipe_pose_equals_pose_format_after_the_same_normalisation():
    seq = get_domain("sign_language").read(REAL)
    assert seq.data.shape == (170, 203, 3) and seq.fps == 24.0
    assert_matches_reference(seq, Pose.read(REAL.read_bytes()))
    # the file is pose-format's reduced Holistic layout: its 178 points, in file order, are our reduced178 slots
    pose = Pose.read(REAL.read_bytes())
    assert pose.header.total_points() == 178 and header_slots(pose.header) == list(LAYOUTS["reduced178"].slots)
    ref, observed = pose_format_reference(pose)
    reduced = subset_indices(LAYOUTS["reduced178"])
    np.testing.assert_allclose(seq.data[:, reduced], ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(seq.mask[:, reduced], observed)
    assert observed.any(0).sum() > 150  # most points are tracked at some frame: the comparison is not of zeros
    # shoulders at (+-0.5, ~0) after normalisation; the 25 body points the reduced layout lacks are 0 and missing
    left, right = (CANONICAL.index[(BODY, f"{s}_SHOULDER")] for s in ("LEFT", "RIGHT"))
    width = np.linalg.norm(seq.data[:, left, :2] - seq.data[:, right, :2], axis=-1).mean()
    assert width == pytest.approx(1.0, abs=0.05)
    nose = CANONICAL.index[(BODY, "NOSE")]
    assert not seq.mask[:, nose].any() and not seq.data[:, nose].any()
    hips = [CANONICAL.index[(BODY, f"{s}_HIP")] for s in ("LEFT", "RIGHT")]
    assert not seq.data[:, hips].any()  # legs (hips included) zeroed, as SignCLIP does
    hand = [CANONICAL.index[(RIGHT_HAND, "WRIST")], CANONICAL.index[(LEFT_HAND, "WRIST")]]
    assert seq.mask[:, hand].any() and not seq.mask[:, hand].all()  # hands tracked in some frames only


@needs_real
def test_real_pose_as_npz_reads_like_the_pose_file(tmp_path):
    pose = Pose.read(REAL.read_bytes())
    np.savez(
        tmp_path / "real.npz",
        data=pose.body.data.filled(np.nan),
        confidence=pose.body.confidence,
        fps=pose.body.fps,
        layout="reduced178",
    )
    from_npz, from_pose = read_sequence(tmp_path / "real.npz"), read_sequence(REAL)
    np.testing.assert_allclose(from_npz.data, from_pose.data, atol=1e-5)
    np.testing.assert_array_equal(from_npz.mask, from_pose.mask)
    assert from_npz.fps == 24.0


def random_holistic(frames: int, header, rng) -> Pose:
    points = header.total_points()
    data = rng.normal(0, 100, (frames, 1, points, 3)).astype(np.float32) + 500
    confidence = (rng.random((frames, 1, points)) > 0.1).astype(np.float32)
    mask = np.repeat((confidence == 0)[..., None], 3, -1)
    return Pose(header, NumPyPoseBody(fps=30.0, data=ma.masked_array(data, mask=mask), confidence=confidence))


def test_full_holistic_576_layout_maps_by_name(tmp_path):
    rng = np.random.default_rng(0)
    header = holistic_header(face=FULL_FACE, world=True)
    assert header.total_points() == 576
    write(random_holistic(12, header, rng), tmp_path / "full.pose")
    seq = read_sequence(tmp_path / "full.pose")
    assert seq.data.shape == (12, 203, 3) and seq.fps == 30.0
    assert_matches_reference(seq, Pose.read((tmp_path / "full.pose").read_bytes()))


def test_openpose_layout_maps_body_and_hands_with_zero_depth(tmp_path):
    np.random.seed(0)
    pose = fake_openpose_pose(num_frames=9)
    pose.body.confidence = np.abs(pose.body.confidence) + 0.1
    pose.body.data = ma.masked_array(np.abs(pose.body.data.filled(0)) * 100, mask=False)
    write(pose, tmp_path / "openpose.pose")
    seq = read_sequence(tmp_path / "openpose.pose")
    assert_matches_reference(seq, Pose.read((tmp_path / "openpose.pose").read_bytes()))
    assert not seq.data[..., 2].any()  # 2-D input: z = 0
    assert seq.mask[:, CANONICAL.index[(RIGHT_HAND, "PINKY_TIP")]].all()
    face = [j for j, (c, _) in enumerate(CANONICAL.slots) if c == "FACE_LANDMARKS"]
    assert not seq.mask[:, face].any()  # OpenPose's 70 face points have no Holistic twin


def test_nan_points_in_an_npy_are_missing(tmp_path):
    rng = np.random.default_rng(1)
    arr = rng.normal(500, 80, (6, 203, 3)).astype(np.float32)
    right_hand = [j for j, (c, _) in enumerate(CANONICAL.slots) if c == RIGHT_HAND]
    arr[2, right_hand] = np.nan
    np.save(tmp_path / "clip.npy", arr)
    seq = read_sequence(tmp_path / "clip.npy")
    assert seq.fps == 25.0  # a bare .npy has no frame rate: the documented default
    assert not seq.mask[2, right_hand].any() and not seq.data[2, right_hand].any()
    assert seq.mask[3, right_hand].all() and np.isfinite(seq.data).all()


def test_ten_thousand_frames_are_truncated_to_the_central_max_frames(tmp_path, caplog):
    domain = get_domain("sign_language")
    rng = np.random.default_rng(2)
    write(random_holistic(10_000, holistic_header(), rng), tmp_path / "long.pose")
    seq = domain.read(tmp_path / "long.pose")
    assert seq.num_frames == 10_000
    spec = domain.default_spec()
    spec = spec.replace(extra={**spec.extra, "fps": None})
    with caplog.at_level(logging.WARNING):
        x = domain.transform(spec, train=False)(seq)
    assert x.shape == (256, 609)
    start = (10_000 - 256) // 2
    np.testing.assert_allclose(x.numpy(), seq.data[start : start + 256].reshape(256, -1))
    assert "long.pose: 10000 frames exceed max_frames=256" in caplog.text


def test_bad_inputs_are_named(tmp_path):
    domain = get_domain("sign_language")
    rng = np.random.default_rng(3)
    (tmp_path / "empty.pose").write_bytes(b"")
    (tmp_path / "text.pose").write_text("this is not a pose file at all")
    (tmp_path / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    write(random_holistic(0, holistic_header(), rng), tmp_path / "zero.pose")
    full = random_holistic(5, holistic_header(), rng)
    write(full.get_components(["POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS"]), tmp_path / "onehand.pose")
    write(full, tmp_path / "ok.pose")
    (tmp_path / "truncated.pose").write_bytes((tmp_path / "ok.pose").read_bytes()[:-500])
    np.savez(tmp_path / "nodata.npz", other=np.zeros(3))
    np.save(tmp_path / "odd.npy", np.zeros((4, 99, 3)))
    cases = {
        "missing.pose": "file not found",
        "empty.pose": "file is empty",
        "text.pose": "not a .pose file",
        "picture.png": "unsupported file type '.png'",
        "zero.pose": "pose has zero frames",
        "onehand.pose": r"lacks hand component\(s\) \['RIGHT_HAND_LANDMARKS'\]",
        "truncated.pose": "not a readable .pose file",
        "nodata.npz": "npz has no 'data' or 'poses' array",
        "odd.npy": r"unknown keypoint layout \(99 points",
    }
    for name, message in cases.items():
        with pytest.raises(InputError, match=rf"{name}.*{message}|{message}.*{name}"):
            domain.read(tmp_path / name)
    assert domain.read(tmp_path / "ok.pose").num_frames == 5


def test_read_bytes_parses_a_served_pose_without_a_temporary_file(tmp_path):
    rng = np.random.default_rng(4)
    write(random_holistic(7, holistic_header(), rng), tmp_path / "a.pose")
    domain = get_domain("sign_language")
    seq = domain.read_bytes((tmp_path / "a.pose").read_bytes(), "upload.pose")
    np.testing.assert_array_equal(seq.data, domain.read(tmp_path / "a.pose").data)
    with pytest.raises(InputError, match=r"upload\.pose: not a \.pose file"):
        domain.read_bytes(b"GIF89a....", "upload.pose")
