"""One vision encoder per sensor, each an open_clip tower whose first convolution takes that sensor's bands.

The ``multisensor`` tower adapter copies the open_clip vision tower the spec built (a ViT, a ModifiedResNet or a
timm trunk: anything whose first layer is a 3-channel ``Conv2d``) once per sensor and replaces that convolution by
an N-band one initialised from the RGB weights with timm's ``adapt_input_conv`` (repeated over bands and rescaled
by 3/N, as timm and torchgeo do). RGB weights come from ``vision_tower_args["rgb_weights"]`` (an open_clip
checkpoint, safetensors or torch) when given. S1 and S2 never share a batch row: each row goes through its
sensor's encoder, and both land in the shared text space (CLOSP). A spec whose ``extra`` holds
``location_encoder`` also gets the GeoCLOSP location encoder (``location.py``) as ``model.location_encoder``.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import torch
from clipzoo.core.spec import ModelSpec
from safetensors.torch import load_file
from timm.models import adapt_input_conv
from torch import nn

from .bands import SENSOR_IDS, SensorBands
from .location import LOCATION_KEY, LocationEncoder, location_config

log = logging.getLogger(__name__)


def first_conv(module: nn.Module) -> tuple[nn.Module, str, nn.Conv2d]:
    """The first 3-channel ``Conv2d`` of a tower: (its parent, attribute name, the layer)."""
    for name, layer in module.named_modules():
        if isinstance(layer, nn.Conv2d) and layer.in_channels == 3:
            parent_name, _, attr = name.rpartition(".")
            return module.get_submodule(parent_name) if parent_name else module, attr, layer
    raise ValueError(f"{type(module).__name__} has no 3-channel Conv2d to adapt")


def adapt_first_conv(tower: nn.Module, in_chans: int) -> nn.Conv2d:
    """Replace the tower's RGB input convolution in place by an ``in_chans`` one with adapted weights."""
    parent, attr, conv = first_conv(tower)
    new = nn.Conv2d(
        in_chans,
        conv.out_channels,
        kernel_size=conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        groups=conv.groups,
        bias=conv.bias is not None,
        padding_mode=conv.padding_mode,
    )
    with torch.no_grad():
        new.weight.copy_(adapt_input_conv(in_chans, conv.weight.detach()))
        if conv.bias is not None:
            new.bias.copy_(conv.bias.detach())
    setattr(parent, attr, new)
    return new


def load_rgb_weights(visual: nn.Module, path: str | Path) -> None:
    """Load an open_clip checkpoint's ``visual.*`` weights into the 3-channel tower."""
    path = Path(path)
    if path.suffix == ".safetensors":
        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    state = {k.removeprefix("module."): v for k, v in state.items()}
    visual_state = {k[len("visual.") :]: v for k, v in state.items() if k.startswith("visual.")}
    visual.load_state_dict(visual_state or state, strict=True)


class MultiSensorTower(nn.Module):
    """Routes each batch row to its sensor's encoder; returns ``[B, embed_dim]`` in batch order."""

    def __init__(self, visual: nn.Module, channels: dict[str, int]):
        super().__init__()
        self.channels = dict(channels)
        self.encoders = nn.ModuleDict()
        for sensor, n in channels.items():
            encoder = copy.deepcopy(visual)
            adapt_first_conv(encoder, n)
            self.encoders[sensor] = encoder
        self.output_dim = getattr(visual, "output_dim", None)
        self.image_size = getattr(visual, "image_size", None)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        pixels, sensor = batch["pixels"], batch["sensor"]
        outputs, rows = [], []
        unused = pixels.new_zeros(())
        for name, encoder in self.encoders.items():
            idx = (sensor == SENSOR_IDS[name]).nonzero(as_tuple=True)[0]
            if idx.numel() == 0:  # keeps every parameter in the graph (DDP) without changing the result
                unused = unused + sum(p.sum() for p in encoder.parameters() if p.requires_grad) * 0.0
                continue
            outputs.append(encoder(pixels[idx, : self.channels[name]]))
            rows.append(idx)
        if not outputs:
            raise ValueError(f"batch holds no sensor this tower knows; sensor ids {sensor.unique().tolist()}")
        feats, order = torch.cat(outputs), torch.cat(rows)
        out = feats.new_empty(feats.shape).index_copy(0, order, feats)
        return out + unused

    def lock(self, unlocked_groups: int = 0, freeze_bn_stats: bool = False) -> None:
        for encoder in self.encoders.values():
            if hasattr(encoder, "lock"):
                encoder.lock(unlocked_groups=unlocked_groups, freeze_bn_stats=freeze_bn_stats)
            else:
                encoder.requires_grad_(False)


def sensors_of(spec: ModelSpec) -> dict[str, SensorBands]:
    """The spec's sensors with their band order and statistics (``extra["sensors"]``)."""
    return {name: SensorBands.from_dict(name, d) for name, d in spec.extra["sensors"].items()}


TOWER_NAME = "multisensor"


def multisensor_tower(model: nn.Module, spec: ModelSpec) -> None:
    """Replace ``model.visual`` by one N-band encoder per sensor of the spec; add the GeoCLOSP location encoder
    (``model.location_encoder``, saved and loaded with the model's weights) when ``spec.extra`` enables it."""
    rgb = spec.vision_tower_args.get("rgb_weights")
    if rgb:
        if Path(rgb).is_file():
            load_rgb_weights(model.visual, rgb)
        else:  # a registered model rebuilt elsewhere: its trained weights are loaded next
            log.warning("RGB weights %s not found: patch embeddings start from the tower's own init", rgb)
    model.visual = MultiSensorTower(model.visual, {s: len(b.bands) for s, b in sensors_of(spec).items()})
    location = location_config(spec.extra)
    if location is not None:
        setattr(model, LOCATION_KEY, LocationEncoder(location, spec.embed_dim))
