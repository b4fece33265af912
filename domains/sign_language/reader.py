"""Read ``.pose`` files (pose-format) and ``.npy``/``.npz`` keypoint arrays into one normalised pose sequence.

Every input goes through the same pose-format pipeline, as SignCLIP preprocesses: first person only; NaN and masked
points are missing; ``Pose.normalize`` by the shoulders (midpoint to the origin, mean shoulder width to 1);
``pose_hide_legs`` zeroes hips, knees, ankles, heels and feet (after normalising, so they stay exactly 0); points are
then placed by name into the canonical ``signclip203`` layout (missing points 0, ``mask`` False). Holistic layouts
(full 576 points, reduced face, the 178-point ``reduce_holistic`` layout) and OpenPose BODY_25 (body and hands; its
70 face points have no Holistic twin and are dropped, z = 0) are understood. The frame rate is kept.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.ma as ma
from clipzoo.core.errors import InputError
from clipzoo.core.files import require_file
from pose_format import Pose
from pose_format.numpy import NumPyPoseBody
from pose_format.utils.generic import (
    detect_known_pose_format,
    pose_hide_legs,
    pose_normalization_info,
)

from .layouts import (
    ARRAY_LAYOUT_BY_POINTS,
    ARRAY_LAYOUTS,
    CANONICAL,
    LEFT_HAND,
    OPENPOSE_HANDS,
    RIGHT_HAND,
    header_slots,
)

POSE_SUFFIXES = (".pose",)
ARRAY_SUFFIXES = (".npy", ".npz")
DEFAULT_ARRAY_FPS = 25.0  # a bare .npy carries no frame rate
_POSE_VERSIONS = (0.0, 0.1, 0.2)
_HANDS = {"holistic": (LEFT_HAND, RIGHT_HAND), "openpose": tuple(OPENPOSE_HANDS)}


@dataclass
class PoseSequence:
    """One signer's pose sequence in the canonical layout: ``data`` [T, 203, 3] float32 (normalised, missing 0),
    ``mask`` [T, 203] bool (True where the point was observed), ``fps`` and where it came from."""

    data: np.ndarray
    mask: np.ndarray
    fps: float
    source: str

    @property
    def num_frames(self) -> int:
        return int(self.data.shape[0])


def _check_header_bytes(data: bytes, name: str) -> None:
    if not data:
        raise InputError("file is empty (0 bytes)", name)
    if len(data) < 4:
        raise InputError("not a .pose file (too short for a pose-format header)", name)
    (version,) = struct.unpack("<f", data[:4])
    if not any(abs(version - v) < 1e-6 for v in _POSE_VERSIONS):
        raise InputError("not a .pose file (no pose-format header version 0.0-0.2 at its start)", name)


def read_pose_bytes(data: bytes, name: str) -> PoseSequence:
    """Parse the bytes of a ``.pose`` file with pose-format and preprocess them."""
    _check_header_bytes(data, name)
    try:
        pose = Pose.read(data)
    except Exception as err:  # pose-format raises struct/Value/Index errors on truncated or corrupt bodies
        raise InputError(f"not a readable .pose file ({type(err).__name__}: {err})", name) from err
    return pose_to_sequence(pose, name)


def read_pose_file(path: str | Path) -> PoseSequence:
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    return read_pose_bytes(path.read_bytes(), str(path))


def _component_names(pose: Pose) -> list[str]:
    return [c.name for c in pose.header.components]


def _check_layout(pose: Pose, name: str) -> str:
    names = _component_names(pose)
    try:
        known = detect_known_pose_format(pose)
    except ValueError:
        known = None
    if known not in _HANDS:
        raise InputError(
            f"unsupported pose layout (components {names}); expected MediaPipe Holistic or OpenPose components", name
        )
    missing = [c for c in _HANDS[known] if c not in names]
    if missing:
        raise InputError(f"pose lacks hand component(s) {missing} (it has {names}); the model needs both hands", name)
    return known


def _first_person(pose: Pose, name: str) -> None:
    data = pose.body.data
    if data.ndim != 4 or data.shape[0] == 0:
        raise InputError("pose has zero frames", name)
    if data.shape[1] == 0:
        raise InputError("pose has no person in it (0 people)", name)
    mask = ma.getmaskarray(data[:, :1]) | ~np.isfinite(data[:, :1].filled(0))
    confidence = np.where(mask.any(-1), 0.0, pose.body.confidence[:, :1]).astype(np.float32)
    values = np.nan_to_num(np.asarray(data[:, :1].filled(0), dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    pose.body = NumPyPoseBody(fps=pose.body.fps, data=ma.masked_array(values, mask=mask), confidence=confidence)


def _normalise(pose: Pose, name: str) -> None:
    info = pose_normalization_info(pose.header)
    shoulders = pose.body.data[:, 0, [info.p1, info.p2]]
    width = ma.sqrt(((shoulders[:, 0] - shoulders[:, 1]) ** 2).sum(-1))
    if width.count() == 0 or not float(width.mean()) > 0:
        raise InputError("shoulders are never visible: cannot normalise by shoulder width", name)
    pose.normalize(info)


def pose_to_sequence(pose: Pose, name: str) -> PoseSequence:
    """pose-format pipeline: first person, NaN -> missing, shoulder normalisation, legs zeroed, canonical layout."""
    _check_layout(pose, name)
    _first_person(pose, name)
    fps = float(pose.body.fps)
    if not fps > 0:
        raise InputError(f"pose has an invalid frame rate ({fps})", name)
    _normalise(pose, name)
    pose = pose_hide_legs(pose)
    data = pose.body.data[:, 0]
    observed = ~ma.getmaskarray(data).any(-1) & (pose.body.confidence[:, 0] > 0)
    values = np.where(observed[..., None], data.filled(0), 0.0).astype(np.float32)

    src, dst = [], []
    for i, slot in enumerate(header_slots(pose.header)):
        j = CANONICAL.index.get(slot) if slot else None
        if j is not None:
            src.append(i)
            dst.append(j)
    frames, dims = values.shape[0], min(values.shape[-1], 3)
    out = np.zeros((frames, CANONICAL.num_points, 3), dtype=np.float32)
    mask = np.zeros((frames, CANONICAL.num_points), dtype=bool)
    out[:, dst, :dims] = values[:, src, :dims]
    mask[:, dst] = observed[:, src]
    return PoseSequence(data=out, mask=mask, fps=fps, source=name)


def read_array_file(path: str | Path) -> PoseSequence:
    """A ``.npy`` [T, P, C] or [T, people, P, C] array, or a ``.npz`` with ``data`` (or ``poses``) and optional
    ``confidence`` [T, (people,) P], ``fps`` and ``layout`` (one of ``ARRAY_LAYOUTS``). Without a declared layout
    the point count names it (576, 543, 203, 178, 137); without ``fps``, 25 fps is assumed. NaN points are missing."""
    path = require_file(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise InputError(f"not a readable numpy {path.suffix} file: {err}", path) from err
    confidence, fps, layout = None, DEFAULT_ARRAY_FPS, None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            key = next((k for k in ("data", "poses") if k in loaded.files), None)
            if key is None:
                raise InputError(f"npz has no 'data' or 'poses' array (it has {loaded.files})", path)
            array = loaded[key]
            confidence = loaded["confidence"] if "confidence" in loaded.files else None
            fps = float(loaded["fps"]) if "fps" in loaded.files else fps
            layout = str(loaded["layout"]) if "layout" in loaded.files else None
    else:
        array = loaded
    return array_to_sequence(array, str(path), fps=fps, layout=layout, confidence=confidence)


def array_to_sequence(
    array: np.ndarray,
    name: str,
    fps: float = DEFAULT_ARRAY_FPS,
    layout: str | None = None,
    confidence: np.ndarray | None = None,
) -> PoseSequence:
    """Wrap a keypoint array in a pose-format ``Pose`` of its declared layout and preprocess it like a ``.pose``."""
    array = np.asarray(array)
    if array.ndim == 3:
        array = array[:, None]
        confidence = None if confidence is None else np.asarray(confidence)[:, None]
    if array.ndim != 4 or not np.issubdtype(array.dtype, np.number):
        raise InputError(f"expected a numeric [frames, points, dims] array, got {array.dtype} {array.shape}", name)
    if array.shape[0] == 0:
        raise InputError("pose has zero frames", name)
    points = array.shape[2]
    layout = layout or ARRAY_LAYOUT_BY_POINTS.get(points)
    if layout not in ARRAY_LAYOUTS:
        raise InputError(
            f"unknown keypoint layout ({points} points, layout {layout!r}); declare one of {sorted(ARRAY_LAYOUTS)} "
            "in the npz key 'layout'",
            name,
        )
    header = ARRAY_LAYOUTS[layout]()
    if header.total_points() != points or header.num_dims() != array.shape[3]:
        raise InputError(
            f"layout {layout} has {header.total_points()} points x {header.num_dims()} dims; "
            f"the array has {points} x {array.shape[3]}",
            name,
        )
    values = array.astype(np.float32)
    finite = np.isfinite(values).all(-1)
    conf = finite.astype(np.float32) if confidence is None else np.where(finite, confidence, 0).astype(np.float32)
    if conf.shape != values.shape[:3]:
        raise InputError(f"confidence has shape {conf.shape}, expected {values.shape[:3]}", name)
    data = ma.masked_array(np.nan_to_num(values), mask=np.repeat((conf == 0)[..., None], values.shape[3], -1))
    return pose_to_sequence(Pose(header, NumPyPoseBody(fps=fps, data=data, confidence=conf)), name)


def read_sequence(path: str | Path) -> PoseSequence:
    """Dispatch on the suffix: ``.pose`` through pose-format, ``.npy``/``.npz`` as declared arrays."""
    suffix = Path(path).suffix.lower()
    if suffix in POSE_SUFFIXES:
        return read_pose_file(path)
    if suffix in ARRAY_SUFFIXES:
        return read_array_file(path)
    raise InputError(f"unsupported file type {suffix or '(none)'!r}; expected .pose, .npy or .npz", path)
