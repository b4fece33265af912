"""A kinematic signer: synthetic signing sequences in the SignCLIP Holistic layout, in body units.

Body units: origin at the shoulder midpoint, shoulder width 1, u to the image right, v down, z towards the camera
negative (MediaPipe's convention). The signer faces the camera, so the subject's right side is at negative u; the
dominant hand is the right one (a left-handed signer is the mirror image). A sign is a handshape, a hand orientation,
a location and a movement (circle, tap, wave, push, pull, twist, slide), one-handed, two-handed symmetric, or on a
static base hand; the arms follow the wrists by two-bone inverse kinematics and the hands rest at the hips between
signs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layouts import BODY, BODY_POINTS, CANONICAL, FACE, FACE_CONTOUR_INDICES, FACE_CONTOUR_MIRROR, HAND_POINTS
from .layouts import LEFT_HAND as LEFT_HAND_C
from .layouts import RIGHT_HAND as RIGHT_HAND_C

# Flexion of thumb, index, middle, ring, pinky (0 straight, ~1.5 curled).
HANDSHAPES: dict[str, tuple[float, ...]] = {
    "open": (0.0, 0.0, 0.0, 0.0, 0.0),
    "flat": (0.8, 0.0, 0.0, 0.0, 0.0),
    "fist": (0.9, 1.5, 1.5, 1.5, 1.5),
    "index": (1.0, 0.0, 1.5, 1.5, 1.5),
    "v": (1.0, 0.0, 0.0, 1.5, 1.5),
    "y": (0.0, 1.5, 1.5, 1.5, 0.0),
    "c": (0.4, 0.7, 0.7, 0.7, 0.7),
    "flat_o": (0.9, 1.0, 1.0, 1.0, 1.0),
    "claw": (0.3, 0.9, 0.9, 0.9, 0.9),
    "relaxed": (0.3, 0.3, 0.35, 0.4, 0.45),
}
LOCATIONS: dict[str, tuple[float, float, float]] = {
    "forehead": (-0.12, -1.05, -0.1),
    "temple": (-0.35, -1.0, -0.05),
    "mouth": (-0.03, -0.68, -0.15),
    "chin": (-0.05, -0.58, -0.15),
    "chest": (-0.08, 0.35, -0.15),
    "neutral": (-0.3, 0.15, -0.4),
    "high": (-0.3, -0.45, -0.35),
    "low": (-0.3, 0.6, -0.35),
}
REST = np.array([-0.48, 1.3, 0.0])


@dataclass(frozen=True)
class SignDef:
    """One sign: what the dominant hand does (and the other), with its English meanings."""

    gloss: str
    meanings: tuple[str, ...]
    shape: str
    location: str
    movement: str  # circle | tap | wave | push | pull | twist | slide
    hands: str = "one"  # one | sym | base
    direction: tuple[float, float, float] = (0.0, 1.0, 0.0)
    amplitude: float = 0.2
    repeats: int = 1
    roll: float = 0.0  # in-plane hand rotation, radians (0: fingers up)
    yaw: float = 0.0  # rotation about the vertical axis (pi/2: palm facing the midline)
    base_shape: str = "flat"


SIGNS: tuple[SignDef, ...] = (
    SignDef("HELLO", ("hello", "hi"), "flat", "temple", "push", direction=(-1.0, 0.2, -0.4), amplitude=0.45),
    SignDef("PLEASE", ("please",), "flat", "chest", "circle", amplitude=0.17, repeats=2, roll=0.5),
    SignDef("HOUSE", ("house", "home"), "flat", "high", "slide", "sym", (-0.6, 1.0, 0.0), 0.5, roll=-0.6),
    SignDef("YES", ("yes",), "fist", "neutral", "tap", direction=(0.0, 1.0, 0.0), amplitude=0.16, repeats=3),
    SignDef("EAT", ("eat", "food"), "flat_o", "mouth", "tap", direction=(0.0, 0.1, -1.0), amplitude=0.18, repeats=3),
    SignDef("BIG", ("big", "large"), "c", "neutral", "slide", "sym", (-1.0, 0.0, 0.0), 0.4, yaw=1.5),
    SignDef("SORRY", ("sorry", "apologize"), "fist", "chest", "circle", amplitude=0.17, repeats=2),
    SignDef("THANK_YOU", ("thank you", "thanks"), "flat", "chin", "push", direction=(-0.2, 0.6, -1.0), amplitude=0.5),
    SignDef("NO", ("no",), "v", "neutral", "tap", direction=(0.0, 0.0, 1.0), amplitude=0.14, repeats=2, roll=0.3),
    SignDef("SMALL", ("small", "little"), "flat", "neutral", "slide", "sym", (1.0, 0.0, 0.0), 0.25, yaw=1.5),
    SignDef("RAIN", ("rain",), "claw", "high", "tap", "sym", (0.0, 1.0, 0.0), 0.3, 2),
    SignDef("WHERE", ("where",), "index", "high", "wave", amplitude=0.12, repeats=3),
    SignDef(
        "THINK",
        ("think", "thought"),
        "index",
        "forehead",
        "tap",
        direction=(-0.3, 0.0, -1.0),
        amplitude=0.16,
        repeats=2,
    ),
    SignDef("DRINK", ("drink",), "c", "chin", "twist", amplitude=1.0, yaw=1.2),
    SignDef("GO", ("go", "leave"), "index", "chest", "push", "sym", (-0.2, -0.3, -1.0), 0.6, roll=0.2),
    SignDef("COME", ("come",), "index", "neutral", "pull", "sym", (-0.1, -0.2, -1.0), 0.5, roll=-0.3),
    SignDef("MORE", ("more",), "flat_o", "neutral", "tap", "sym", (1.0, 0.0, 0.0), 0.15, 2, yaw=1.2),
    SignDef("FINISH", ("finish", "done"), "open", "neutral", "twist", "sym", amplitude=0.9, repeats=2),
    SignDef("SLEEP", ("sleep",), "open", "forehead", "slide", direction=(0.0, 1.0, 0.0), amplitude=0.4, roll=0.3),
    SignDef("HELP", ("help", "assist"), "fist", "chest", "slide", "base", (0.0, -1.0, 0.0), 0.35, yaw=1.5),
)

_BODY_STATIC = {
    "NOSE": (0.0, -0.8, -0.25), "LEFT_EYE_INNER": (0.05, -0.9, -0.2), "LEFT_EYE": (0.09, -0.91, -0.2),
    "LEFT_EYE_OUTER": (0.13, -0.9, -0.18), "LEFT_EAR": (0.2, -0.84, 0.0), "MOUTH_LEFT": (0.06, -0.68, -0.2),
    "LEFT_SHOULDER": (0.5, 0.0, 0.0), "LEFT_HIP": (0.3, 1.55, 0.0), "LEFT_KNEE": (0.3, 2.4, 0.0),
    "LEFT_ANKLE": (0.3, 3.2, 0.05), "LEFT_HEEL": (0.3, 3.3, 0.1), "LEFT_FOOT_INDEX": (0.36, 3.35, -0.1),
}  # fmt: skip
_FINGER_BASES = np.array([[0.14, 0.15, 0.0], [0.13, 0.45, 0.0], [0.02, 0.47, 0.0], [-0.08, 0.45, 0.0],
                          [-0.17, 0.41, 0.0]])  # fmt: skip
_FINGER_SPREAD = np.array([0.9, 0.08, 0.0, -0.08, -0.18])
_SEGMENTS = np.array([[0.2, 0.17, 0.15], [0.25, 0.15, 0.12], [0.27, 0.17, 0.12], [0.25, 0.15, 0.12],
                      [0.2, 0.12, 0.1]])  # fmt: skip
_HAND_SCALE = 0.45
_UPPER_ARM, _FOREARM = 0.72, 0.68


def _body_template() -> np.ndarray:
    out = np.zeros((len(BODY_POINTS), 3))
    for name, xyz in _BODY_STATIC.items():
        mirror = name.replace("LEFT", "RIGHT")
        out[BODY_POINTS.index(name)] = xyz
        out[BODY_POINTS.index(mirror)] = (-xyz[0], xyz[1], xyz[2])
    return out


def _face_template() -> np.ndarray:
    """128 contour points scattered symmetrically inside the face oval (the mesh's mirror pairs stay mirrored)."""
    rng = np.random.default_rng(20240)
    pts = np.zeros((len(FACE_CONTOUR_INDICES), 3))
    position = {idx: i for i, idx in enumerate(FACE_CONTOUR_INDICES)}
    for i, (idx, mirror) in enumerate(zip(FACE_CONTOUR_INDICES, FACE_CONTOUR_MIRROR, strict=True)):
        if idx > mirror:
            continue
        r, a = np.sqrt(rng.uniform(0.05, 1.0)), rng.uniform(-np.pi / 2, np.pi / 2)
        u, v = (0.0, 0.34 * rng.uniform(-1, 1)) if idx == mirror else (0.26 * r * np.cos(a), 0.34 * r * np.sin(a))
        pts[i] = (u, -0.78 + v, -0.2 + 0.1 * u**2)
        pts[position[mirror]] = (-u, -0.78 + v, -0.2 + 0.1 * u**2)
    return pts


BODY_TEMPLATE = _body_template()
FACE_TEMPLATE = _face_template()


def _smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def hand_points(flex: np.ndarray, wrist: np.ndarray, roll: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """[T, 21, 3] right-hand landmarks for per-frame flexion [T, 5], wrist [T, 3], in-plane roll and yaw [T]."""
    frames = wrist.shape[0]
    local = np.zeros((frames, 21, 3))
    joint_gain = np.array([1.0, 1.1, 0.8])
    for f in range(5):
        angles = np.cumsum(flex[:, f : f + 1] * joint_gain, axis=1)  # [T, 3]
        spread = _FINGER_SPREAD[f] - (0.9 * flex[:, f] if f == 0 else 0.0)  # the thumb folds across the palm
        spread = np.broadcast_to(np.asarray(spread, dtype=float).reshape(-1, 1), angles.shape)
        d = np.stack([np.sin(spread) * np.cos(angles), np.cos(spread) * np.cos(angles), -np.sin(angles)], -1)
        seg = d * _SEGMENTS[f][None, :, None]
        base = 1 + 4 * f
        local[:, base] = _FINGER_BASES[f]
        local[:, base + 1 : base + 4] = _FINGER_BASES[f] + np.cumsum(seg, axis=1)
    local *= _HAND_SCALE
    cy, sy = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    x, y, z = local[..., 0] * cy + local[..., 2] * sy, local[..., 1], -local[..., 0] * sy + local[..., 2] * cy
    cr, sr = np.cos(roll)[:, None], np.sin(roll)[:, None]
    u, up = x * cr - y * sr, x * sr + y * cr
    return wrist[:, None, :] + np.stack([u, -up, z], -1)


def _path(sign: SignDef, phase: np.ndarray, amplitude: float) -> tuple[np.ndarray, np.ndarray]:
    """Wrist offset [T, 3] and extra roll [T] of the dominant hand over the sign's phase in [0, 1]."""
    d = np.asarray(sign.direction, dtype=float)
    d = d / (np.linalg.norm(d) or 1.0)
    a, n, t = amplitude * sign.amplitude, sign.repeats, phase[:, None]
    roll = np.zeros_like(phase)
    if sign.movement == "circle":
        off = a * np.concatenate([np.cos(2 * np.pi * n * t) - 1, np.sin(2 * np.pi * n * t), 0 * t], 1)
    elif sign.movement == "tap":
        off = d * a * (0.5 - 0.5 * np.cos(2 * np.pi * n * t))
    elif sign.movement == "wave":
        off = np.concatenate([a * np.sin(2 * np.pi * n * t), 0 * t, 0 * t], 1)
        roll = 0.35 * np.sin(2 * np.pi * n * phase)
    elif sign.movement in ("push", "slide"):
        off = d * a * _smooth(t)
    elif sign.movement == "pull":
        off = d * a * (1 - _smooth(t))
    elif sign.movement == "twist":
        off = np.zeros((len(phase), 3))
        roll = sign.amplitude * amplitude * np.sin(np.pi * n * phase)
    else:
        raise ValueError(f"unknown movement {sign.movement!r}")
    return off, roll


def _elbow(shoulder: np.ndarray, wrist: np.ndarray, outward: float) -> np.ndarray:
    """Two-bone IK in the image plane; the elbow bends away from the midline (``outward`` = -1 right, +1 left)."""
    vec = wrist - shoulder
    dist = np.clip(np.linalg.norm(vec[:, :2], axis=1), 1e-6, _UPPER_ARM + _FOREARM - 1e-3)
    cos_a = np.clip((_UPPER_ARM**2 + dist**2 - _FOREARM**2) / (2 * _UPPER_ARM * dist), -1, 1)
    angle = np.arccos(cos_a) * (-outward)
    unit = vec[:, :2] / dist[:, None]
    rot = np.stack([unit[:, 0] * np.cos(angle) - unit[:, 1] * np.sin(angle),
                    unit[:, 0] * np.sin(angle) + unit[:, 1] * np.cos(angle)], 1)  # fmt: skip
    return np.concatenate([shoulder[:, :2] + _UPPER_ARM * rot, 0.5 * (shoulder[:, 2:] + wrist[:, 2:])], 1)


@dataclass(frozen=True)
class Signer:
    """How one person signs: size, position, tempo, amplitude, lean and handedness."""

    scale: float  # pixels per shoulder width
    centre: tuple[float, float]
    speed: float
    amplitude: float
    lean: float
    left_handed: bool
    offset: tuple[float, float, float]

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Signer:
        return cls(
            scale=float(rng.uniform(150, 260)),
            centre=(float(rng.uniform(540, 740)), float(rng.uniform(280, 400))),
            speed=float(rng.uniform(0.75, 1.3)),
            amplitude=float(rng.uniform(0.8, 1.2)),
            lean=float(rng.normal(0, 0.04)),
            left_handed=bool(rng.random() < 0.15),
            offset=tuple(float(x) for x in rng.normal(0, 0.04, 3)),
        )


def _hand_track(sign: SignDef, signer: Signer, phase: np.ndarray, weight: np.ndarray, base: bool) -> tuple:
    """Wrist, roll, flexion of one (right-hand-geometry) hand, blended from rest by ``weight`` [T]."""
    loc = np.asarray(LOCATIONS[sign.location]) + np.asarray(signer.offset)
    if base:  # a static base hand, palm up, under the dominant hand's location
        wrist = np.broadcast_to(loc + np.array([0.05, 0.15, -0.05]), (len(phase), 3)).copy()
        roll, flex, yaw = np.full(len(phase), -1.4), np.asarray(HANDSHAPES[sign.base_shape]), 0.4
    else:
        off, extra_roll = _path(sign, phase, signer.amplitude)
        wrist, roll, flex, yaw = loc + off, sign.roll + extra_roll, np.asarray(HANDSHAPES[sign.shape]), sign.yaw
    w = weight[:, None]
    wrist = w * wrist + (1 - w) * REST
    roll = weight * roll + (1 - weight) * np.pi
    flex = w * flex + (1 - w) * np.asarray(HANDSHAPES["relaxed"])
    return hand_points(flex, wrist, roll, yaw * weight), wrist


def render_sign(sign: SignDef, signer: Signer, rng: np.random.Generator, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates [T, 203, 3] in the canonical layout and per-point confidence [T, 203]."""
    frames = max(12, round(40 / signer.speed * fps / 25))
    t = np.linspace(0, 1, frames)
    weight = _smooth(t / 0.2) * _smooth((1 - t) / 0.2)  # rest -> sign -> rest
    phase = np.clip((t - 0.2) / 0.6, 0, 1)
    right, right_wrist = _hand_track(sign, signer, phase, weight, base=False)
    if sign.hands == "one":
        left, left_wrist = _hand_track(sign, signer, phase, np.zeros(frames), base=False)
    else:
        left, left_wrist = _hand_track(sign, signer, phase, weight, base=sign.hands == "base")
    left, left_wrist = left * [-1, 1, 1], left_wrist * [-1, 1, 1]

    pts = np.zeros((frames, CANONICAL.num_points, 3))
    body = np.broadcast_to(BODY_TEMPLATE, (frames, len(BODY_POINTS), 3)).copy()
    body[:, :11] += 0.02 * np.sin(2 * np.pi * t * rng.uniform(0.5, 1.5))[:, None, None]  # the head moves a little
    for side, hand, wrist, outward in (("RIGHT", right, right_wrist, -1.0), ("LEFT", left, left_wrist, 1.0)):
        shoulder = body[:, BODY_POINTS.index(f"{side}_SHOULDER")]
        body[:, BODY_POINTS.index(f"{side}_ELBOW")] = _elbow(shoulder, wrist, outward)
        for body_name, hand_name in (("WRIST", "WRIST"), ("PINKY", "PINKY_MCP"), ("INDEX", "INDEX_FINGER_MCP"),
                                     ("THUMB", "THUMB_IP")):  # fmt: skip
            body[:, BODY_POINTS.index(f"{side}_{body_name}")] = hand[:, HAND_POINTS.index(hand_name)]
    for i, slot in enumerate(CANONICAL.slots):
        comp, name = slot
        if comp == BODY:
            pts[:, i] = body[:, BODY_POINTS.index(name)]
        elif comp == FACE:
            pts[:, i] = FACE_TEMPLATE[FACE_CONTOUR_INDICES.index(int(name))] + body[:, 0] - BODY_TEMPLATE[0]
        else:
            pts[:, i] = (right if comp == RIGHT_HAND_C else left)[:, HAND_POINTS.index(name)]
    pts += rng.normal(0, 0.006, pts.shape)
    if signer.left_handed:
        pts = pts[:, CANONICAL.mirror] * [-1, 1, 1]

    confidence = np.ones((frames, CANONICAL.num_points), dtype=np.float32)
    hand_slots = {c: [i for i, s in enumerate(CANONICAL.slots) if s[0] == c] for c in (LEFT_HAND_C, RIGHT_HAND_C)}
    for slots in hand_slots.values():
        resting = pts[:, slots[0], 1] > 1.0  # hands at the hips are often out of frame: the tracker loses them
        lost = resting & (rng.random() < 0.6) | (rng.random(frames) < 0.03)
        confidence[np.ix_(lost, slots)] = 0.0
    c, s = np.cos(signer.lean), np.sin(signer.lean)
    u, v = pts[..., 0] * c - pts[..., 1] * s, pts[..., 0] * s + pts[..., 1] * c
    pixels = np.stack(
        [signer.centre[0] + signer.scale * u, signer.centre[1] + signer.scale * v, signer.scale * pts[..., 2]], -1
    )
    pixels[confidence == 0] = 0.0
    return pixels.astype(np.float32), confidence
