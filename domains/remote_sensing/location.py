"""The GeoCLOSP location encoder: real spherical harmonics of (lon, lat), a SIREN, a projection into the shared space.

As SatCLIP: a location is encoded by the real, orthonormal spherical harmonics ``Y_l^m`` up to degree ``L``
(``(L + 1)^2`` features, ``l = 0..L``, ``m = -l..l``; polar angle = 90 deg - latitude, azimuth = longitude, no
Condon-Shortley phase, so ``Y_0^0 = 1 / (2 sqrt(pi))`` and ``Y_1^{-1}, Y_1^0, Y_1^1 = sqrt(3 / 4 pi) * (y, z, x)`` of
the unit vector), followed by a SIREN (sine activations, SIREN initialisation) and a linear projection to
``embed_dim``. Coordinates are always ``(longitude, latitude)`` in degrees, in that order: ``lonlat[..., 0]`` is the
longitude in [-180, 180], ``lonlat[..., 1]`` the latitude in [-90, 90]; anything else is refused. Swapped
coordinates are refused when the latitude slot gets a value beyond 90 (the error suggests the swap), and otherwise
encode another place: build them with ``lonlat_tensor(lon=..., lat=...)`` to keep the order explicit.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from clipzoo.core.errors import InputError
from torch import nn

LOCATION_KEY = "location_encoder"  # the spec's ``extra`` entry that enables the encoder


@dataclass(frozen=True)
class LocationConfig:
    """Settings of the location encoder (``spec.extra["location_encoder"]``)."""

    degree: int = 10  # L: spherical harmonics up to this degree
    hidden: int = 256
    layers: int = 2  # SIREN layers
    w0: float = 1.0  # frequency of the hidden SIREN layers
    w0_initial: float = 30.0  # frequency of the first SIREN layer
    loss_weight: float = 1.0  # weight of the location <-> image term in the training loss
    retrieval_weight: float = 1.0  # weight of location similarity in location-aware retrieval

    @classmethod
    def from_dict(cls, data: dict[str, Any] | bool | None) -> LocationConfig:
        data = {} if data is True or data is None else data
        if not isinstance(data, dict):
            raise InputError(f"{LOCATION_KEY} must be a mapping of settings, got {data!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown {LOCATION_KEY} settings {unknown}; known: {sorted(known)}")
        cfg = cls(**data)
        if cfg.degree < 0 or cfg.layers < 1 or cfg.hidden < 1:
            raise InputError(f"{LOCATION_KEY}: need degree >= 0, layers >= 1, hidden >= 1; got {cfg}")
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lonlat_tensor(*, lon: Any, lat: Any) -> torch.Tensor:
    """``[..., 2]`` (lon, lat) from keyword-only longitudes and latitudes (degrees), checked."""
    out = torch.stack(torch.broadcast_tensors(torch.as_tensor(lon), torch.as_tensor(lat)), dim=-1).double()
    check_lonlat(out)
    return out


def check_lonlat(lonlat: torch.Tensor) -> None:
    """Refuse coordinates that are not finite ``(lon, lat)`` degrees; the message says which value is wrong."""
    if lonlat.ndim < 1 or lonlat.shape[-1] != 2:
        raise InputError(f"locations must be [..., 2] as (lon, lat) in degrees; got shape {tuple(lonlat.shape)}")
    lon, lat = lonlat[..., 0], lonlat[..., 1]
    bad = ~torch.isfinite(lonlat).all(dim=-1)
    if bad.any():
        raise InputError(f"{int(bad.sum())} location(s) are missing or not finite, e.g. {lonlat[bad][0].tolist()}")
    for name, values, limit in (("latitude", lat, 90.0), ("longitude", lon, 180.0)):
        out = values.abs() > limit
        if out.any():
            first = lonlat[out][0].tolist()
            swapped = " (lon/lat swapped? the order is (lon, lat))" if name == "latitude" else ""
            raise InputError(
                f"{name} {values[out][0].item():g} outside [-{limit:g}, {limit:g}] in (lon, lat) = {first}{swapped}"
            )


def _legendre(x: torch.Tensor, sin_t: torch.Tensor, degree: int) -> dict[tuple[int, int], torch.Tensor]:
    """Associated Legendre functions ``P_l^m(x)``, ``0 <= m <= l <= degree``, without the Condon-Shortley phase."""
    p: dict[tuple[int, int], torch.Tensor] = {(0, 0): torch.ones_like(x)}
    for m in range(degree + 1):
        if m > 0:  # P_m^m = (2m - 1) sin(theta) P_{m-1}^{m-1}
            p[m, m] = (2 * m - 1) * sin_t * p[m - 1, m - 1]
        if m + 1 <= degree:
            p[m + 1, m] = (2 * m + 1) * x * p[m, m]
        for ell in range(m + 2, degree + 1):
            p[ell, m] = ((2 * ell - 1) * x * p[ell - 1, m] - (ell + m - 1) * p[ell - 2, m]) / (ell - m)
    return p


def spherical_harmonics(lonlat: torch.Tensor, degree: int) -> torch.Tensor:
    """Real orthonormal spherical harmonics of ``(lon, lat)`` degrees: ``[..., (degree + 1)^2]``, ordered
    ``l = 0..degree`` then ``m = -l..l``; computed in float64, returned in ``lonlat``'s floating dtype."""
    check_lonlat(lonlat)
    dtype = lonlat.dtype if lonlat.is_floating_point() else torch.float32
    lon, lat = torch.deg2rad(lonlat[..., 0].double()), torch.deg2rad(lonlat[..., 1].double())
    x, sin_t = torch.sin(lat), torch.cos(lat)  # cos and sin of the polar angle (colatitude)
    p = _legendre(x, sin_t, degree)
    out = []
    for ell in range(degree + 1):
        for m in range(-ell, ell + 1):
            a = abs(m)
            k = math.sqrt((2 * ell + 1) / (4 * math.pi) * math.exp(math.lgamma(ell - a + 1) - math.lgamma(ell + a + 1)))
            if m == 0:
                out.append(k * p[ell, 0])
            elif m > 0:
                out.append(math.sqrt(2) * k * p[ell, a] * torch.cos(a * lon))
            else:
                out.append(math.sqrt(2) * k * p[ell, a] * torch.sin(a * lon))
    return torch.stack(out, dim=-1).to(dtype)


class SirenLayer(nn.Module):
    """``sin(w0 * (W x + b))`` with SIREN's initialisation (Sitzmann et al. 2020)."""

    def __init__(self, dim_in: int, dim_out: int, w0: float, first: bool):
        super().__init__()
        self.w0 = w0
        self.linear = nn.Linear(dim_in, dim_out)
        bound = 1.0 / dim_in if first else math.sqrt(6.0 / dim_in) / w0
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)
            self.linear.bias.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.w0 * self.linear(x))


class LocationEncoder(nn.Module):
    """``(lon, lat)`` -> spherical harmonics -> SIREN -> ``embed_dim``, with its own contrastive temperature."""

    def __init__(self, config: LocationConfig, embed_dim: int):
        super().__init__()
        self.config = config
        dims = [(config.degree + 1) ** 2] + [config.hidden] * config.layers
        self.siren = nn.Sequential(
            *(
                SirenLayer(d_in, d_out, config.w0_initial if i == 0 else config.w0, first=i == 0)
                for i, (d_in, d_out) in enumerate(itertools.pairwise(dims))
            )
        )
        self.proj = nn.Linear(config.hidden, embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, lonlat: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Embeddings ``[..., embed_dim]`` of ``lonlat[..., :] = (lon, lat)`` in degrees."""
        dtype = self.proj.weight.dtype
        features = self.proj(self.siren(spherical_harmonics(lonlat, self.config.degree).to(dtype)))
        return nn.functional.normalize(features, dim=-1) if normalize else features

    def scale(self) -> torch.Tensor:
        """The contrastive temperature's inverse, clamped at 100 as CLIP's."""
        return self.logit_scale.clamp(0, math.log(100)).exp()


def location_config(extra: dict[str, Any]) -> LocationConfig | None:
    """The spec's location encoder settings, or None when the spec has none."""
    value = extra.get(LOCATION_KEY)
    return None if value is None or value is False else LocationConfig.from_dict(value)


def location_encoder_of(model: nn.Module) -> LocationEncoder | None:
    """The model's location encoder, if its spec gave it one."""
    encoder = getattr(model, LOCATION_KEY, None)
    return encoder if isinstance(encoder, LocationEncoder) else None
