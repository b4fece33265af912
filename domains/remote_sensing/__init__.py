"""The ``remote_sensing`` domain: Sentinel-1 SAR and Sentinel-2 multispectral chips aligned only through text (CLOSP).

An imported RGB checkpoint (RemoteCLIP, GeoRSCLIP) reads 8-bit RGB chips and Sentinel-2 as true colour (``rgb.py``).

One registered model holds one encoder per sensor (an open_clip ViT whose patch embedding takes that sensor's
bands, initialised from RGB weights), a shared, locked all-MiniLM-L6-v2 text tower and (GeoCLOSP, ``location.py``) a
spherical-harmonics + SIREN location encoder; training batches mix unpaired S1 and S2 chips, so SAR and optical meet
only through their captions, and each chip's centre (lon, lat) is contrasted with its image embedding.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from clipzoo.core.domain import Converter, DemoData, Domain, ZeroShotTask
from clipzoo.core.errors import ClipzooError, InputError
from clipzoo.core.model_configs import model_config
from clipzoo.core.spec import ModelSpec
from rasterio.windows import Window

from . import tower as _tower
from .bands import default_sensors
from .demo_data import load_prompt_packs, write_demo_dataset
from .evaluation import LABEL_COLUMN, SENSOR_COLUMN, sensor_metrics
from .location import LOCATION_KEY, LocationConfig, location_config, location_encoder_of
from .raster import RASTER_SUFFIXES, read_band_folder, read_raster
from .rgb import RGB_SUFFIXES, RGBTransform, read_picture, rgb_config, rgb_spec
from .sensors import SensorSample, identify
from .tower import sensors_of
from .transforms import RemoteSensingTransform, collate_samples

WINDOW_MARK = "#window="

# Two small ViTs (one per sensor) on 32 px chips, 8 px patches; the pretrained all-MiniLM-L6-v2 text tower is
# locked (LiT), so held-out prompt wordings land near the captions that mean the same.
SMALL_VIT_MINILM = model_config("vit-small-32-minilm")  # core/model_configs/vit-small-32-minilm.json


def split_window(path: str | Path) -> tuple[Path, Window | None]:
    """``scene.tif#window=col,row,width,height`` -> (scene.tif, Window); a plain path has no window."""
    text = str(path)
    if WINDOW_MARK not in text:
        return Path(text), None
    base, spec = text.split(WINDOW_MARK, 1)
    try:
        col, row, width, height = (int(v) for v in spec.split(","))
    except ValueError as err:
        raise InputError(f"window {spec!r} must be col,row,width,height in pixels", base) from err
    return Path(base), Window(col, row, width, height)


def chip_lonlats(paths: Sequence[str | Path]) -> torch.Tensor:
    """``[N, 2]`` chip centres (lon, lat) from each raster's CRS and transform; a raster without CRS is named."""
    return torch.tensor([read_sample(p, require_location=True).lonlat for p in paths], dtype=torch.float64)


def read_sample(path: str | Path, require_location: bool = False) -> SensorSample:
    """A GeoTIFF/COG, a chip of one (``#window=``), a folder of per-band files or a PNG/JPEG chip (Pillow), as a
    checked sensor sample."""
    file, window = split_window(path)
    if file.suffix.lower() in RGB_SUFFIXES and window is None and not require_location:
        return identify(read_picture(file))
    reader = read_band_folder if file.is_dir() else read_raster
    return identify(reader(file, window=window, require_location=require_location))


SCOPE_SAMPLE = 256  # training rasters read to record the sensors a model was trained on


class RemoteSensingDomain(Domain):
    """Sentinel-1 (VV, VH) and Sentinel-2 (13 bands) rasters with captions, one encoder per sensor."""

    name = "remote_sensing"
    modality = "sentinel-1/2 raster"
    runtime_packages = ("numpy", "rasterio", "affine", "albumentations", "opencv-python-headless", "timm")
    file_suffixes = RASTER_SUFFIXES + RGB_SUFFIXES
    primary_metric = "landcover_balanced_accuracy"
    intended_use = "Research on zero-shot land-cover classification and text retrieval of Sentinel-1/2 chips."
    limitations = (
        "Demo models are trained on synthetic chips; S2 statistics are approximate global L1C values; S1 units must "
        "be declared (BACKSCATTER_UNITS). Validate on your own imagery before relying on it."
    )

    def read(self, path: str | Path) -> SensorSample:
        return read_sample(path)

    def training_scope(self, files: Sequence[str]) -> dict[str, Any]:
        """The sensors of the training rasters (the first ``SCOPE_SAMPLE`` of them: each is read)."""
        sensors = set()
        for name in list(files)[:SCOPE_SAMPLE]:
            try:
                sensors.add(read_sample(name).sensor)
            except (ClipzooError, ValueError, OSError):
                continue
        return {"sensor": sorted(sensors)} if sensors else {}

    def scope_warnings(self, sample: SensorSample, scope: dict[str, Any]) -> list[str]:
        trained = scope.get("sensor") or []
        if trained and sample.sensor not in trained:
            names = ", ".join(s.upper() for s in trained)
            return [f"sensor {sample.sensor.upper()} is outside the model's training data ({names}): its encoder for "
                    "this sensor was not trained on it; treat the answer with caution"]  # fmt: skip
        return []

    def input_size(self, sample: SensorSample) -> tuple[int, int]:
        """A chip's (width, height) in pixels of its finest band (``[C, H, W]``)."""
        return int(sample.raster.data.shape[2]), int(sample.raster.data.shape[1])

    def transform(self, spec: ModelSpec, train: bool) -> RemoteSensingTransform | RGBTransform:
        if rgb_config(spec) is not None:
            return RGBTransform(spec, train)
        located = train and location_config(spec.extra) is not None
        return RemoteSensingTransform(sensors_of(spec), spec.image_size, train, require_location=located)

    def collate(self, tensors: Sequence[Any]) -> torch.Tensor | dict[str, torch.Tensor]:
        if all(isinstance(t, torch.Tensor) for t in tensors):  # an RGB model's images
            return torch.stack(list(tensors))
        return collate_samples(list(tensors), max(t["pixels"].shape[0] for t in tensors))

    def default_spec(self) -> ModelSpec:
        sensors = default_sensors()
        return ModelSpec(
            name="closp-vit-tiny-minilm",
            domain=self.name,
            model_cfg=SMALL_VIT_MINILM,
            image_size=32,
            input_channels=len(sensors["s2"].bands),
            mean=sensors["s2"].mean,
            std=sensors["s2"].std,
            vision_tower=_tower.TOWER_NAME,
            vision_tower_args={"rgb_weights": None},
            lock_text=True,
            extra={
                "sensors": {name: s.to_dict() for name, s in sensors.items()},
                LOCATION_KEY: LocationConfig(degree=10, hidden=256, layers=2).to_dict(),
            },
        )

    def import_spec(self, spec: ModelSpec) -> ModelSpec:
        """A published 2D checkpoint is an RGB model: it reads RGB chips, and Sentinel-2 as true colour."""
        return rgb_spec(spec)

    def zero_shot_tasks(self) -> list[ZeroShotTask]:
        return [ZeroShotTask(name=LABEL_COLUMN, label_column=LABEL_COLUMN, prompt_pack=LABEL_COLUMN)]

    def prompt_packs(self) -> dict[str, dict]:
        return load_prompt_packs()

    def extra_metrics(self, clip: Any, manifest: Any, features: torch.Tensor) -> dict[str, float]:
        from clipzoo.core.zeroshot import PromptPack

        if LABEL_COLUMN not in manifest.frame.columns:
            return {}
        if SENSOR_COLUMN in manifest.frame.columns:
            sensors = [str(s).lower() for s in manifest.column(SENSOR_COLUMN)]
        else:
            sensors = [self.read(manifest.file(i)).sensor for i in range(len(manifest))]
        pack = PromptPack.from_dict(LABEL_COLUMN, self.prompt_packs()[LABEL_COLUMN])
        labels = [str(v) for v in manifest.column(LABEL_COLUMN)]
        lonlat = None
        if location_encoder_of(clip.model) is not None:  # from each chip's georeferencing, not the manifest
            lonlat = chip_lonlats([manifest.file(i) for i in range(len(manifest))])
        return sensor_metrics(clip, pack, labels, sensors, features, lonlat)

    def prediction_tasks(self) -> dict[str, Any]:
        """``classify-with-location``: zero-shot land cover with the location prior (``geo_predict``)."""
        from .geo_predict import TASK, classify_with_location

        return {TASK: classify_with_location}

    def trainer_class(self) -> type:
        """``GeoTrainer``: the CLOSP step plus the GeoCLOSP location term when the spec has a location encoder."""
        from .geo_train import GeoTrainer

        return GeoTrainer

    def demo_train_defaults(self, small: bool = False) -> dict[str, Any]:
        if small:
            return {"epochs": 1, "batch_size": 16, "warmup_steps": 2, "lr": 1e-3}
        return {"epochs": 8, "batch_size": 64, "warmup_steps": 20, "lr": 1e-3, "weight_decay": 0.05}

    def write_demo_data(self, root: Path, seed: int = 0, small: bool = False) -> DemoData:
        sizes = {"n_train": 32, "n_heldout": 12} if small else {"n_train": 900, "n_heldout": 150}
        paths = write_demo_dataset(root, seed=seed, **sizes)
        return DemoData(train=paths["train"], heldout=paths["heldout"])

    def converters(self) -> dict[str, Converter]:
        """The published layouts of training data (``convert``), then those of the field's benchmarks."""
        from .benchmark_layouts import BENCHMARK_CONVERTERS
        from .convert import CONVERTERS

        return {**CONVERTERS, **{c.name: c for c in BENCHMARK_CONVERTERS}}

    def vision_towers(self) -> dict[str, Any]:
        return {_tower.TOWER_NAME: _tower.multisensor_tower}
