"""An imported checkpoint sees the pixels its authors fed it, in every domain with a 2D path.

One tiny open_clip checkpoint with a non-default ``preprocess_cfg`` is imported into each domain through the real
import job; each domain's predict path (read the file, transform, encode) must give the embedding open_clip's own
``create_model_and_transforms`` + ``encode_image`` computes from the same picture, within 1e-5. The domain decides
only how a file becomes an 8-bit picture: as Pillow opens it (the image domain keeps alpha, which open_clip resizes
with the picture; tiles and chips drop it), a 16-bit grey scaled from its stored range (Pillow alone clips it at
255), a fashion cut-out composited on white, a radiograph as a viewer displays it (DICOM VOI window, MONOCHROME1
inverted).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import open_clip
import pydicom
import pytest
import torch
from clipzoo.core.domain import get_domain
from clipzoo.core.predict import InputItem, Predictor
from clipzoo.pipeline.importer import import_model
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from safetensors.torch import save_file

from tests.conftest import TINY_OPEN_CLIP_CFG
from tests.helpers.hub import tiny_open_clip

# Shortest-side resize, bicubic, centre crop: open_clip's usual mode, where a cv2 resize (no antialiasing) or the
# domain's own intensity scaling used to differ; mean/std unlike any domain's.
PREPROCESS = {"size": 32, "mean": [0.52, 0.44, 0.36], "std": [0.21, 0.24, 0.27], "interpolation": "bicubic",
              "resize_mode": "shortest"}  # fmt: skip
TOLERANCE = {"atol": 1e-5, "rtol": 0}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """An open_clip ``local-dir:`` folder: ``open_clip_config.json`` + safetensors weights."""
    folder = tmp_path_factory.mktemp("published")
    (folder / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": TINY_OPEN_CLIP_CFG, "preprocess_cfg": PREPROCESS})
    )
    state = {k: v.contiguous() for k, v in tiny_open_clip(11).state_dict().items()}
    save_file(state, str(folder / "open_clip_model.safetensors"))
    return folder


@pytest.fixture(scope="module")
def reference(checkpoint):
    """open_clip's own model and preprocessing of the checkpoint."""
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{checkpoint}")
    model.eval()

    def embed(picture: Image.Image) -> torch.Tensor:
        with torch.no_grad():
            return model.encode_image(preprocess(picture)[None], normalize=True)[0]

    return embed


_IMPORTED: dict[str, Predictor] = {}


def imported(domain: str, checkpoint: Path) -> Predictor:
    """The checkpoint imported into ``domain`` (once per module), as the predict path uses it."""
    if domain not in _IMPORTED:
        result = import_model(get_domain(domain), f"local-dir:{checkpoint}", line=f"pixels-{domain.replace('_', '-')}")
        assert result.clip.spec.imported
        _IMPORTED[domain] = Predictor(result.clip, get_domain(domain))
    return _IMPORTED[domain]


def embed_file(predictor: Predictor, path: Path) -> torch.Tensor:
    features, errors = predictor.encode([InputItem.from_path(path)])
    assert errors == [None], errors
    return features[0]


def pictures(folder: Path) -> dict[str, Path]:
    """Non-square pictures over 4x the model's 32 px side: RGB, grey, RGBA and 16-bit grey PNGs, and a JPEG."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:150, 0:190]
    smooth = ((np.sin(xx / 9.0) + np.cos(yy / 13.0)) * 60 + 128).astype(np.uint8)
    rgb = np.clip(np.stack([smooth, smooth[::-1], np.roll(smooth, 40, 1)], -1) + rng.integers(0, 40, (150, 190, 3)),
                  0, 255).astype(np.uint8)  # fmt: skip
    alpha = rng.integers(0, 256, (150, 190), dtype=np.uint8)
    wide = (smooth.astype(np.uint16) * 13 + 300).T.copy()  # 12-bit values in a 16-bit PNG, 190 x 150
    files = {
        "rgb": (Image.fromarray(rgb), "rgb.png"),
        "grey": (Image.fromarray(smooth.T.copy()), "grey.png"),
        "rgba": (Image.fromarray(np.dstack([rgb, alpha]), mode="RGBA"), "rgba.png"),
        "grey16": (Image.fromarray(wide), "grey16.png"),
        "jpeg": (Image.fromarray(rgb), "photo.jpg"),
    }
    out = {}
    for key, (img, name) in files.items():
        img.save(folder / name)
        out[key] = folder / name
    assert Image.open(out["grey16"]).mode == "I;16"
    return out


ALPHA = {"image": "kept", "fashion": "on white", "pathology": "dropped", "remote_sensing": "dropped"}


def as_fed(path: Path, alpha: str = "kept") -> Image.Image:
    """The 8-bit picture of a file: as Pillow opens it, a 16-bit grey scaled from its stored range (min..max); a
    picture with alpha as the domain decodes it (``kept``: open_clip resizes it with its alpha, then drops it)."""
    img = Image.open(path)
    if img.mode == "I;16":
        values = np.asarray(img, dtype=np.float64)
        scaled = (values - values.min()) / (values.max() - values.min()) * 255
        return Image.fromarray(np.round(scaled).astype(np.uint8))
    if img.mode == "RGBA" and alpha == "on white":
        return Image.alpha_composite(Image.new("RGBA", img.size, (255, 255, 255, 255)), img)
    if img.mode == "RGBA" and alpha == "dropped":
        return img.convert("RGB")
    return img


@pytest.mark.parametrize("domain", ["image", "pathology", "remote_sensing", "fashion"])
def test_pictures_are_fed_the_checkpoints_own_preprocessing(domain, checkpoint, reference, tmp_path):
    predictor = imported(domain, checkpoint)
    for kind, path in pictures(tmp_path).items():
        ours = embed_file(predictor, path)
        theirs = reference(as_fed(path, ALPHA[domain]))
        torch.testing.assert_close(ours, theirs, **TOLERANCE, msg=f"{domain}: {kind}")


def test_a_16_bit_picture_is_scaled_not_clipped_as_pillow_would(checkpoint, reference, tmp_path):
    path = pictures(tmp_path)["grey16"]
    clipped = reference(Image.open(path))  # what Pillow's own RGB conversion would feed: almost all white
    ours = embed_file(imported("image", checkpoint), path)
    assert not torch.allclose(ours, clipped, atol=1e-3)


def test_a_tile_cut_from_a_slide_is_fed_like_the_same_tile_saved_as_png(checkpoint, tmp_path):
    from clipzoo.domains.pathology.pyramid import write_pyramidal_tiff
    from clipzoo.domains.pathology.slide import open_slide
    from clipzoo.domains.pathology.synthetic import render_tissue
    from clipzoo.domains.pathology.tiling import plan_tiles, read_tile

    rng = np.random.default_rng(0)
    tissue = np.concatenate([render_tissue("tumour", rng, 256), render_tissue("stroma", rng, 256)], axis=1)
    slide_path = write_pyramidal_tiff(tmp_path / "slide.tif", lambda y0, y1: tissue[y0:y1], 256, 512, mpp=0.5, levels=2)
    slide = open_slide(slide_path)
    plan = plan_tiles(slide, target_mpp=0.5, tile_px=128, min_tissue=0.0)
    predictor = imported("pathology", checkpoint)
    for index in range(plan.n_tiles):
        x, y = (int(v) for v in plan.coords[index])
        tile_file = tmp_path / f"tile{index}.png"
        Image.fromarray(tissue[y : y + 128, x : x + 128]).save(tile_file)
        from_slide = predictor.transform(read_tile(slide, plan, index))
        torch.testing.assert_close(from_slide, predictor._read(InputItem.from_path(tile_file)), atol=0, rtol=0)


def test_radiograph_pngs_are_fed_as_they_display(checkpoint, reference, tmp_path):
    predictor = imported("medical", checkpoint)
    files = pictures(tmp_path)
    for kind in ("grey", "grey16"):
        ours = embed_file(predictor, files[kind])
        torch.testing.assert_close(ours, reference(as_fed(files[kind]).convert("RGB")), **TOLERANCE, msg=kind)


def write_cr(path: Path, pixels: np.ndarray, center: float, width: float) -> Path:
    """A 12-bit MONOCHROME1 computed radiograph with a VOI window, written by pydicom."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"  # CR Image Storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.BodyPartExamined, ds.PatientID = "CR", "CHEST", "anon"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME1"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 1, 0, "US"
    ds.WindowCenter, ds.WindowWidth = center, width
    ds.PixelSpacing = [0.2, 0.2]
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def displayed(path: Path) -> Image.Image:
    """The 8-bit picture a DICOM viewer shows: pydicom's modality LUT and VOI window, MONOCHROME1 inverted."""
    ds = pydicom.dcmread(path)
    shown = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds)
    # pydicom's window output range: the stored range (unsigned here) through RescaleSlope/Intercept
    slope, intercept = float(ds.get("RescaleSlope", 1)), float(ds.get("RescaleIntercept", 0))
    low, high = intercept, (2**ds.BitsStored - 1) * slope + intercept
    unit = (shown - low) / (high - low)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        unit = 1.0 - unit
    return Image.fromarray(np.round(unit * 255).astype(np.uint8)).convert("RGB")


def test_a_monochrome1_radiograph_is_fed_its_displayed_8_bit_picture(checkpoint, reference, tmp_path):
    yy, xx = np.mgrid[0:170, 0:140]
    pixels = (2000 + 1500 * np.sin(xx / 11.0) * np.cos(yy / 17.0)).astype(np.uint16)  # 500..3500 of 12 bits
    path = write_cr(tmp_path / "chest.dcm", pixels, center=1800, width=2200)
    predictor = imported("medical", checkpoint)
    ours = embed_file(predictor, path)
    torch.testing.assert_close(ours, reference(displayed(path)), **TOLERANCE)
    # the window matters: the whole stored range would be another picture
    naive = Image.fromarray(np.round((4095 - pixels) / 4095 * 255).astype(np.uint8)).convert("RGB")
    assert not torch.allclose(ours, reference(naive), atol=1e-3)


@pytest.fixture(scope="module")
def transformers_folder(tmp_path_factory):
    """A tiny transformers ``CLIPModel`` ``save_pretrained`` folder with its processor (bicubic, shortest side 32)."""
    from clipzoo.core.checkpoints import write_open_clip_bpe_tokenizer_files
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    torch.manual_seed(3)
    layers = {"intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "hidden_size": 32}
    config = CLIPConfig(
        text_config={"vocab_size": 49408, "max_position_embeddings": 16, **layers},
        vision_config={"image_size": 32, "patch_size": 8, **layers},
        projection_dim=16,
    )
    model = CLIPModel(config).eval()
    root = tmp_path_factory.mktemp("hf")
    model.save_pretrained(root / "clip")
    tokenizer = CLIPTokenizer.from_pretrained(write_open_clip_bpe_tokenizer_files(root / "bpe"), model_max_length=16)
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                                image_mean=PREPROCESS["mean"], image_std=PREPROCESS["std"], resample=3)  # fmt: skip
    processor = CLIPProcessor(image_processor=images, tokenizer=tokenizer)
    processor.save_pretrained(root / "clip")
    return root / "clip", model, processor


@pytest.mark.parametrize("domain", ["image", "pathology"])
def test_a_transformers_checkpoint_is_fed_as_clip_processor_feeds_it(domain, transformers_folder, tmp_path):
    """The pixels are CLIPProcessor's exactly; the embeddings agree within 1e-5 in float64 (in float32 the two
    libraries' attention kernels alone differ by ~6e-5)."""
    folder, model, processor = transformers_folder
    result = import_model(get_domain(domain), str(folder), line=f"pixels-hf-{domain}")
    predictor = Predictor(result.clip, get_domain(domain))
    ours_model, theirs_model = result.clip.model.double(), model.double()
    alpha = "dropped" if domain == "pathology" else "kept"  # a tile's alpha is gone before CLIPProcessor sees it
    for kind, path in pictures(tmp_path).items():
        pixels = predictor._read(InputItem.from_path(path))  # the predict path's read and transform
        theirs_pixels = processor(images=as_fed(path, alpha), return_tensors="pt")["pixel_values"]
        torch.testing.assert_close(pixels, theirs_pixels[0], atol=0, rtol=0, msg=f"{domain}: {kind}")
        with torch.no_grad():
            ours = ours_model.encode_image(pixels[None].double(), normalize=True)
            output = theirs_model.get_image_features(pixel_values=theirs_pixels.double())
        theirs = torch.nn.functional.normalize(output if isinstance(output, torch.Tensor) else output.pooler_output)
        torch.testing.assert_close(ours, theirs, **TOLERANCE, msg=f"{domain}: {kind}")


def test_the_slices_of_a_volume_are_fed_as_a_viewer_shows_them(checkpoint, tmp_path):
    """A CT series recording a lung window: each slice as pydicom's VOI window shows that file; the same volume as
    NIfTI (no window) in the stated soft-tissue default, said in the row's warnings."""
    from clipzoo.core.images import CheckpointPixels
    from clipzoo.domains.medical.phantom import Grid
    from clipzoo.domains.medical.writers import write_dicom_series, write_nifti

    grid = Grid(rows=96, cols=80, slices=6, pixel_mm=2.0, slice_mm=5.0)
    zz, yy, xx = np.mgrid[0:6, 0:96, 0:80]
    hu = (-800 + 900 * np.sin(xx / 7.0 + zz) * np.cos(yy / 9.0)).astype(np.float32)
    series = tmp_path / "series"
    for path in write_dicom_series(hu, grid, series, "p1"):
        ds = pydicom.dcmread(path)
        ds.WindowCenter, ds.WindowWidth = -600, 1500
        ds.save_as(path)
    predictor = imported("medical", checkpoint)
    pixels = CheckpointPixels(predictor.clip.spec)
    files = sorted(series.iterdir(), key=lambda p: float(pydicom.dcmread(p).ImagePositionPatient[2]))
    expected = torch.stack([pixels(displayed(p)) for p in files])
    volume = predictor._read(InputItem.from_path(series))["volume"]
    torch.testing.assert_close(volume, expected, atol=1e-6, rtol=0)

    nifti = write_nifti(hu, grid, tmp_path / "ct.nii.gz")
    [row] = predictor.predict([InputItem.from_path(nifti)], labels=["a nodule", "no nodule"])
    assert any("soft-tissue window (level 40, width 400 HU)" in w for w in row.warnings), row.warnings
