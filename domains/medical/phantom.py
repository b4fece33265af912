"""Synthetic chest CT: body outline, fat, lungs, heart, aorta and spine with realistic HU, plus findings.

A phantom is rendered on a DICOM-style grid ``hu[k, row, col]``: ``col`` runs to the patient's left (+x of LPS), ``row``
to posterior (+y), ``k`` to superior (+z). Findings: a lung nodule (size in mm, density, side), a pleural effusion
(side, depth) and cardiomegaly (an enlarged heart). Edges are partial-volume blended, noise is Gaussian.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

HU = {"air": -1000.0, "fat": -100.0, "soft": 40.0, "lung": -850.0, "blood": 45.0, "bone": 700.0, "marrow": 250.0}
HU["fluid"] = 12.0
SIDES = ("left", "right")


@dataclass
class Findings:
    """What a phantom shows; ``None`` means absent."""

    nodule_side: str | None = None
    nodule_mm: float = 0.0
    nodule_hu: float = 30.0
    nodule_lobe: str = "upper"
    effusion_side: str | None = None
    effusion_mm: float = 0.0
    cardiomegaly: bool = False

    def labels(self) -> dict[str, object]:
        return {
            "nodule": int(self.nodule_side is not None),
            "effusion": int(self.effusion_side is not None),
            "cardiomegaly": int(self.cardiomegaly),
            "nodule_side": self.nodule_side or "none",
        }


@dataclass
class Grid:
    """The voxel grid in LPS mm: ``rows`` x ``cols`` pixels of ``pixel_mm``, ``slices`` of ``slice_mm``."""

    rows: int = 64
    cols: int = 64
    slices: int = 24
    pixel_mm: float = 5.6
    slice_mm: float = 10.0
    origin: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0))

    def __post_init__(self) -> None:
        if self.origin == (0.0, 0.0, 0.0):  # centre the field of view on the isocentre
            self.origin = (
                -(self.cols - 1) * self.pixel_mm / 2,
                -(self.rows - 1) * self.pixel_mm / 2,
                -(self.slices - 1) * self.slice_mm / 2,
            )

    def coordinates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x (patient left +), y (posterior +), z (superior +) in mm, each broadcastable to [slices, rows, cols]."""
        x0, y0, z0 = self.origin
        x = x0 + np.arange(self.cols) * self.pixel_mm
        y = y0 + np.arange(self.rows) * self.pixel_mm
        z = z0 + np.arange(self.slices) * self.slice_mm
        return x[None, None, :], y[None, :, None], z[:, None, None]


def _ellipsoid(x, y, z, centre, axes, voxel: float) -> np.ndarray:
    """Soft occupancy in [0, 1] of an ellipsoid (partial volume over about one voxel)."""
    r = np.sqrt(((x - centre[0]) / axes[0]) ** 2 + ((y - centre[1]) / axes[1]) ** 2 + ((z - centre[2]) / axes[2]) ** 2)
    return np.clip(0.5 - (r - 1.0) * min(axes) / voxel, 0.0, 1.0)


def _paint(hu: np.ndarray, occupancy: np.ndarray, value: float) -> np.ndarray:
    return hu * (1 - occupancy) + value * occupancy


def render(
    grid: Grid,
    findings: Findings,
    rng: np.random.Generator,
    noise_hu: float = 12.0,
    masks: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """HU volume ``[slices, rows, cols]`` (float32) of a chest with ``findings``. When ``masks`` is a dict, it
    receives the occupancy ``[slices, rows, cols]`` of ``nodule``, ``effusion`` and ``heart`` (where present), so
    callers know which slices show which finding."""
    masks = {} if masks is None else masks
    x, y, z = grid.coordinates()
    vox = grid.pixel_mm
    zs = np.broadcast_to(z, (grid.slices, 1, 1))
    body_a, body_b = rng.uniform(140, 165), rng.uniform(100, 120)
    shift = rng.uniform(-6, 6, size=2)
    hu = np.full((grid.slices, grid.rows, grid.cols), HU["air"], dtype=np.float64)
    body = _ellipsoid(x, y, zs * 0, (shift[0], shift[1], 0), (body_a, body_b, 1e6), vox)
    hu = _paint(hu, body, HU["fat"])
    fat = rng.uniform(10, 20)
    hu = _paint(hu, _ellipsoid(x, y, zs * 0, (shift[0], shift[1], 0), (body_a - fat, body_b - fat, 1e6), vox), 40.0)

    lung_axes = (rng.uniform(45, 55), rng.uniform(65, 75), rng.uniform(95, 115))
    lungs = {}
    for side, sign in (("right", -1.0), ("left", 1.0)):
        centre = (sign * rng.uniform(70, 80) + shift[0], shift[1] + 5, rng.uniform(10, 25))
        lungs[side] = (centre, lung_axes)
        hu = _paint(hu, _ellipsoid(x, y, z, centre, lung_axes, vox), HU["lung"] + rng.normal(0, 15))

    if findings.effusion_side is not None:  # fluid layering in the dependent (posterior) part of one lung base
        centre, axes = lungs[findings.effusion_side]
        occupancy = _ellipsoid(x, y, z, centre, axes, vox)
        depth = findings.effusion_mm
        level = centre[1] + axes[1] - depth
        dependent = np.clip(0.5 + (y - level) / vox, 0, 1) * np.clip(0.5 + (centre[2] + 0.25 * axes[2] - z) / vox, 0, 1)
        masks["effusion"] = occupancy * dependent
        hu = _paint(hu, masks["effusion"], HU["fluid"])

    if findings.nodule_side is not None:
        centre, axes = lungs[findings.nodule_side]
        dz = axes[2] * (0.35 if findings.nodule_lobe == "upper" else -0.35)
        nodule_centre = (
            centre[0] + rng.uniform(-0.3, 0.3) * axes[0],
            centre[1] + rng.uniform(-0.45, 0.2) * axes[1],
            centre[2] + dz + rng.uniform(-0.15, 0.15) * axes[2],
        )
        r = findings.nodule_mm / 2
        masks["nodule"] = _ellipsoid(x, y, z, nodule_centre, (r, r, r), vox)
        hu = _paint(hu, masks["nodule"], findings.nodule_hu)

    scale = rng.uniform(1.3, 1.45) if findings.cardiomegaly else rng.uniform(0.95, 1.05)
    heart_axes = tuple(a * scale for a in (rng.uniform(40, 46), rng.uniform(36, 42), rng.uniform(40, 46)))
    heart_centre = (shift[0] + 22 * scale, shift[1] - 30, -15.0)
    masks["heart"] = _ellipsoid(x, y, z, heart_centre, heart_axes, vox)
    hu = _paint(hu, masks["heart"], HU["blood"])
    aorta = (shift[0] + 18, shift[1] + 55, 0.0)
    hu = _paint(hu, _ellipsoid(x, y, zs * 0, aorta, (11, 11, 1e6), vox), HU["blood"])
    spine = (shift[0], shift[1] + 82, 0.0)
    hu = _paint(hu, _ellipsoid(x, y, zs * 0, spine, (17, 17, 1e6), vox), HU["bone"])
    hu = _paint(hu, _ellipsoid(x, y, zs * 0, spine, (11, 11, 1e6), vox), HU["marrow"])

    hu += rng.normal(0, noise_hu, size=hu.shape) * (hu > -990)
    return np.rint(np.clip(hu, -1024, 3071)).astype(np.float32)


def random_findings(rng: np.random.Generator, prevalence: float = 0.4) -> Findings:
    """Independent findings, each present with probability ``prevalence``."""
    f = Findings()
    if rng.random() < prevalence:
        f.nodule_side = SIDES[int(rng.integers(2))]
        f.nodule_mm = float(np.round(rng.uniform(36, 52)))  # 4.5-6.5 pixels across at the demo's 48 px
        f.nodule_hu = float(rng.uniform(30, 100))
        f.nodule_lobe = ("upper", "lower")[int(rng.integers(2))]
    if rng.random() < prevalence:
        f.effusion_side = SIDES[int(rng.integers(2))]
        f.effusion_mm = float(rng.uniform(25, 55))
    f.cardiomegaly = bool(rng.random() < prevalence)
    return f
