"""Keypoint layouts: MediaPipe Holistic point names, SignCLIP's reduced layouts, pose-format headers, OpenPose mapping.

Every input is mapped by point name onto the canonical SignCLIP layout (``signclip203``): the 33 Holistic body points,
the 128 face-contour points of the 468-point face mesh and 2 x 21 hand points (203 points, x/y/z = 609 values a
frame). ``reduced178`` is what pose-format's ``reduce_holistic`` keeps (8 body points: shoulders, elbows, wrists,
hips), the layout of ``../shared/data/sign_language/mediapipe.pose``; it is a subset of ``signclip203``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

BODY = "POSE_LANDMARKS"
FACE = "FACE_LANDMARKS"
LEFT_HAND = "LEFT_HAND_LANDMARKS"
RIGHT_HAND = "RIGHT_HAND_LANDMARKS"
WORLD = "POSE_WORLD_LANDMARKS"

# mediapipe.solutions.holistic.PoseLandmark / HandLandmark member names, in index order.
BODY_POINTS: tuple[str, ...] = (
    "NOSE", "LEFT_EYE_INNER", "LEFT_EYE", "LEFT_EYE_OUTER", "RIGHT_EYE_INNER", "RIGHT_EYE", "RIGHT_EYE_OUTER",
    "LEFT_EAR", "RIGHT_EAR", "MOUTH_LEFT", "MOUTH_RIGHT", "LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_ELBOW",
    "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_PINKY", "RIGHT_PINKY", "LEFT_INDEX", "RIGHT_INDEX",
    "LEFT_THUMB", "RIGHT_THUMB", "LEFT_HIP", "RIGHT_HIP", "LEFT_KNEE", "RIGHT_KNEE", "LEFT_ANKLE", "RIGHT_ANKLE",
    "LEFT_HEEL", "RIGHT_HEEL", "LEFT_FOOT_INDEX", "RIGHT_FOOT_INDEX",
)  # fmt: skip
HAND_POINTS: tuple[str, ...] = (
    "WRIST", "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP", "INDEX_FINGER_MCP", "INDEX_FINGER_PIP",
    "INDEX_FINGER_DIP", "INDEX_FINGER_TIP", "MIDDLE_FINGER_MCP", "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP",
    "MIDDLE_FINGER_TIP", "RING_FINGER_MCP", "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP", "PINKY_MCP",
    "PINKY_PIP", "PINKY_DIP", "PINKY_TIP",
)  # fmt: skip
HAND_LIMBS = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
              (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20))  # fmt: skip
BODY_LIMBS_BY_NAME = (
    ("LEFT_SHOULDER", "RIGHT_SHOULDER"), ("LEFT_SHOULDER", "LEFT_ELBOW"), ("LEFT_ELBOW", "LEFT_WRIST"),
    ("RIGHT_SHOULDER", "RIGHT_ELBOW"), ("RIGHT_ELBOW", "RIGHT_WRIST"), ("LEFT_SHOULDER", "LEFT_HIP"),
    ("RIGHT_SHOULDER", "RIGHT_HIP"), ("LEFT_HIP", "RIGHT_HIP"), ("LEFT_HIP", "LEFT_KNEE"), ("LEFT_KNEE", "LEFT_ANKLE"),
    ("RIGHT_HIP", "RIGHT_KNEE"), ("RIGHT_KNEE", "RIGHT_ANKLE"), ("NOSE", "LEFT_EYE"), ("NOSE", "RIGHT_EYE"),
    ("LEFT_EYE", "LEFT_EAR"), ("RIGHT_EYE", "RIGHT_EAR"), ("MOUTH_LEFT", "MOUTH_RIGHT"),
)  # fmt: skip
# pose-format's reduce_holistic: the body without face, finger and leg points below the hips.
REDUCED_BODY_POINTS: tuple[str, ...] = (
    "LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_HIP",
    "RIGHT_HIP",
)  # fmt: skip
LEG_POINTS = frozenset(f"{s}_{p}" for s in ("LEFT", "RIGHT") for p in ("KNEE", "ANKLE", "HEEL", "FOOT_INDEX", "HIP"))

# FACEMESH_CONTOURS point indices (as in pose-format's reduce_holistic) and, for each, the index of its horizontal
# mirror in the face mesh (pose-format utils/holistic.py FLIPPED_FACE_POINTS; MIT): the contours are closed under it.
FACE_CONTOUR_INDICES: tuple[int, ...] = (
    0, 7, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70, 78, 80, 81, 82, 84, 87,
    88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148, 149, 150, 152, 153, 154, 155, 157, 158,
    159, 160, 161, 162, 163, 172, 173, 176, 178, 181, 185, 191, 234, 246, 249, 251, 263, 267, 269, 270, 276, 282, 283,
    284, 285, 288, 291, 293, 295, 296, 297, 300, 308, 310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334, 336, 338,
    356, 361, 362, 365, 373, 374, 375, 377, 378, 379, 380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397, 398, 400,
    402, 405, 409, 415, 454, 466,
)  # fmt: skip
FACE_CONTOUR_MIRROR: tuple[int, ...] = (
    0, 249, 10, 13, 14, 17, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297, 300, 308,
    310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379,
    152, 380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454, 466, 7, 21, 33, 37,
    39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70, 78, 80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109,
    127, 132, 133, 136, 144, 145, 146, 148, 149, 150, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163, 172, 173, 176,
    178, 181, 185, 191, 234, 246,
)  # fmt: skip
FACE_CONTOURS: tuple[str, ...] = tuple(str(i) for i in FACE_CONTOUR_INDICES)
FULL_FACE: tuple[str, ...] = tuple(str(i) for i in range(468))

# OpenPose BODY_25 names -> Holistic body names (points without a Holistic twin, Neck and MidHip, are dropped).
_OPENPOSE_SIDES = {"R": "RIGHT", "L": "LEFT"}
_OPENPOSE_PARTS = {"Shoulder": "SHOULDER", "Elbow": "ELBOW", "Wrist": "WRIST", "Hip": "HIP", "Knee": "KNEE",
                   "Ankle": "ANKLE", "Eye": "EYE", "Ear": "EAR", "Heel": "HEEL", "BigToe": "FOOT_INDEX"}  # fmt: skip
OPENPOSE_BODY = "pose_keypoints_2d"
OPENPOSE_HANDS = {"hand_left_keypoints_2d": LEFT_HAND, "hand_right_keypoints_2d": RIGHT_HAND}


def _openpose_body_name(name: str) -> str | None:
    if name == "Nose":
        return "NOSE"
    side, part = _OPENPOSE_SIDES.get(name[:1]), _OPENPOSE_PARTS.get(name[1:])
    return f"{side}_{part}" if side and part else None


@dataclass(frozen=True)
class Layout:
    """A fixed list of (Holistic component, point name) slots: the order of the model's input vector."""

    name: str
    slots: tuple[tuple[str, str], ...]

    @property
    def num_points(self) -> int:
        return len(self.slots)

    @property
    def frame_dim(self) -> int:
        """Values per frame (x, y, z of every point)."""
        return 3 * len(self.slots)

    @functools.cached_property
    def index(self) -> dict[tuple[str, str], int]:
        return {slot: i for i, slot in enumerate(self.slots)}

    @functools.cached_property
    def mirror(self) -> np.ndarray:
        """Permutation that swaps left and right (body sides, hands, face-mesh mirror points) for a horizontal flip."""
        face_mirror = dict(zip(FACE_CONTOURS, (str(i) for i in FACE_CONTOUR_MIRROR), strict=True))
        swap = {LEFT_HAND: RIGHT_HAND, RIGHT_HAND: LEFT_HAND}
        out = []
        for component, point in self.slots:
            if component == BODY:
                target = (BODY, point.replace("LEFT", "\0").replace("RIGHT", "LEFT").replace("\0", "RIGHT"))
            elif component == FACE:
                target = (FACE, face_mirror.get(point, point))
            else:
                target = (swap.get(component, component), point)
            out.append(self.index.get(target, self.index[(component, point)]))
        return np.asarray(out, dtype=np.int64)


def _slots(body: tuple[str, ...], face: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return (
        tuple((BODY, p) for p in body)
        + tuple((FACE, p) for p in face)
        + tuple((LEFT_HAND, p) for p in HAND_POINTS)
        + tuple((RIGHT_HAND, p) for p in HAND_POINTS)
    )


LAYOUTS: dict[str, Layout] = {
    "signclip203": Layout("signclip203", _slots(BODY_POINTS, FACE_CONTOURS)),
    "reduced178": Layout("reduced178", _slots(REDUCED_BODY_POINTS, FACE_CONTOURS)),
}
CANONICAL = LAYOUTS["signclip203"]


def get_layout(name: str) -> Layout:
    if name not in LAYOUTS:
        raise KeyError(f"unknown pose layout {name!r}; known: {sorted(LAYOUTS)}")
    return LAYOUTS[name]


def subset_indices(layout: Layout, of: Layout = CANONICAL) -> np.ndarray:
    """Indices into ``of``'s points of ``layout``'s points (``layout`` must be a subset)."""
    return np.asarray([of.index[slot] for slot in layout.slots], dtype=np.int64)


def holistic_slot(component: str, point: str) -> tuple[str, str] | None:
    """The Holistic (component, point) an input point stands for; OpenPose names are translated, others kept."""
    if component == OPENPOSE_BODY:
        name = _openpose_body_name(point)
        return (BODY, name) if name else None
    return (component, point)


def header_slots(header: PoseHeader) -> list[tuple[str, str] | None]:
    """Per point of a pose-format header, the Holistic slot it maps to (OpenPose hands by point index)."""
    out: list[tuple[str, str] | None] = []
    for comp in header.components:
        if comp.name in OPENPOSE_HANDS:
            hand = OPENPOSE_HANDS[comp.name]
            out += [(hand, HAND_POINTS[i]) if i < len(HAND_POINTS) else None for i in range(len(comp.points))]
        else:
            out += [holistic_slot(comp.name, p) for p in comp.points]
    return out


def _component(name: str, points: tuple[str, ...], limbs: list[tuple[int, int]], fmt: str) -> PoseHeaderComponent:
    colors = [(255, 0, 0)] * max(1, len(limbs))
    return PoseHeaderComponent(name=name, points=list(points), limbs=limbs, colors=colors, point_format=fmt)


def holistic_header(
    body: tuple[str, ...] = BODY_POINTS,
    face: tuple[str, ...] = FACE_CONTOURS,
    world: bool = False,
    width: int = 1280,
    height: int = 720,
    depth: int = 1000,
) -> PoseHeader:
    """A pose-format header in the MediaPipe Holistic component layout (XYZC), without importing mediapipe.

    Full Holistic is ``holistic_header(face=FULL_FACE, world=True)`` (33 + 468 + 21 + 21 + 33 = 576 points).
    """
    body_limbs = [(body.index(a), body.index(b)) for a, b in BODY_LIMBS_BY_NAME if a in body and b in body]
    comps = [
        _component(BODY, body, body_limbs, "XYZC"),
        _component(FACE, face, [], "XYZC"),
        _component(LEFT_HAND, HAND_POINTS, list(HAND_LIMBS), "XYZC"),
        _component(RIGHT_HAND, HAND_POINTS, list(HAND_LIMBS), "XYZC"),
    ]
    if world:
        comps.append(_component(WORLD, body, body_limbs, "XYZC"))
    return PoseHeader(version=0.2, dimensions=PoseHeaderDimensions(width, height, depth), components=comps)


def openpose_header(width: int = 1280, height: int = 720) -> PoseHeader:
    """pose-format's own OpenPose BODY_25 + face 70 + hands 21 layout (137 points, XYC)."""
    from pose_format.utils.openpose import OpenPose_Components

    return PoseHeader(version=0.2, dimensions=PoseHeaderDimensions(width, height), components=OpenPose_Components)


# Array layouts a .npy/.npz may declare: name -> header factory; .npy files are recognised by their point count.
ARRAY_LAYOUTS = {
    "holistic576": lambda: holistic_header(face=FULL_FACE, world=True),
    "holistic543": lambda: holistic_header(face=FULL_FACE),
    "signclip203": lambda: holistic_header(),
    "reduced178": lambda: holistic_header(body=REDUCED_BODY_POINTS),
    "openpose137": openpose_header,
}
ARRAY_LAYOUT_BY_POINTS = {576: "holistic576", 543: "holistic543", 203: "signclip203", 178: "reduced178",
                          137: "openpose137"}  # fmt: skip
