"""The remote-sensing readers on rasters written with rasterio and on real GeoTIFFs (../shared/data, skipped when
absent): band selection, nodata and georeferencing survive; chip lon/lat match the transform; bad input is named."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.domains.remote_sensing import read_sample, split_window
from clipzoo.domains.remote_sensing.bands import EUROSAT_MS_ORDER, S2_BANDS
from clipzoo.domains.remote_sensing.raster import iter_chips, read_band_folder, read_raster
from clipzoo.domains.remote_sensing.transforms import select_bands
from PIL import Image
from rasterio.crs import CRS
from rasterio.transform import from_origin
from rasterio.warp import transform as warp
from rasterio.windows import Window

from tests.conftest import SHARED_DATA

RS = SHARED_DATA / "remote_sensing"
UTM33 = CRS.from_epsg(32633)


def write_tif(path, data, crs=UTM33, transform=None, nodata=None, names=None, **tags):
    data = np.asarray(data)
    profile = {
        "driver": "GTiff", "count": data.shape[0], "height": data.shape[1], "width": data.shape[2],
        "dtype": data.dtype.name, "crs": crs, "nodata": nodata,
        "transform": transform if transform is not None else from_origin(500_000, 4_650_000, 10, 10),
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        if names:
            dst.descriptions = tuple(names)
        if tags:
            dst.update_tags(**tags)
    return path


def band_stack(bands, h=16, w=20, dtype=np.uint16):
    """Each band filled with a value that encodes its name's position in S2_BANDS (100 * (i + 1))."""
    return np.stack([np.full((h, w), 100 * (S2_BANDS.index(b) + 1), dtype) for b in bands])


def test_bands_are_selected_by_name_whatever_the_file_order(tmp_path):
    path = write_tif(tmp_path / "eurosat.tif", band_stack(EUROSAT_MS_ORDER), names=EUROSAT_MS_ORDER)
    sample = get_domain("remote_sensing").read(path)
    assert sample.sensor == "s2" and sample.bands == EUROSAT_MS_ORDER
    spec = get_domain("remote_sensing").default_spec()
    assert tuple(spec.extra["sensors"]["s2"]["bands"]) == S2_BANDS  # the model's order travels with its spec
    from clipzoo.domains.remote_sensing.tower import sensors_of

    data, valid = select_bands(sample, sensors_of(spec)["s2"])
    assert [int(data[i, 0, 0]) for i in range(13)] == [100 * (i + 1) for i in range(13)]
    assert valid.all() and sample.raster.filled_bands == ()


def test_missing_b10_is_zero_filled_and_recorded(tmp_path):
    twelve = tuple(b for b in S2_BANDS if b != "B10")
    path = write_tif(tmp_path / "l2a.tif", band_stack(twelve), names=twelve)
    domain = get_domain("remote_sensing")
    spec = domain.default_spec()
    sample = domain.read(path)
    out = domain.transform(spec, train=False)(sample)
    assert sample.raster.filled_bands == ("B10",)
    assert out["pixels"].shape == (13, spec.image_size, spec.image_size)
    assert float(out["pixels"][S2_BANDS.index("B10")].abs().max()) == 0.0  # the band mean after standardisation
    assert float(out["pixels"][S2_BANDS.index("B11")].abs().max()) > 0.0


def test_nodata_mask_is_honoured_and_nodata_pixels_become_the_band_mean(tmp_path):
    data = band_stack(S2_BANDS)
    data[:, :4, :] = 0
    path = write_tif(tmp_path / "edge.tif", data, nodata=0, names=S2_BANDS)
    raster = read_raster(path)
    assert not raster.valid[:, :4].any() and raster.valid[:, 4:].all()
    domain = get_domain("remote_sensing")
    spec = domain.default_spec().replace(image_size=16)
    sample = domain.read(path)
    pixels = domain.transform(spec, train=False)(sample)["pixels"]
    assert pixels.shape == (13, 16, 16)
    assert float(pixels[:, 0].abs().max()) < float(pixels[:, -1].abs().max())


def to_lonlat(epsg, x, y):
    lon, lat = warp(CRS.from_epsg(epsg), CRS.from_epsg(4326), [x], [y])
    return lon[0], lat[0]


def test_georeferencing_survives_and_window_chips_match_the_transform(tmp_path):
    transform = from_origin(499_800, 5_300_040, 10, 10)  # the chip below is centred on zone 33's central meridian
    data = np.arange(2 * 64 * 48, dtype=np.float32).reshape(2, 64, 48) + 1
    path = write_tif(tmp_path / "s1.tif", data, transform=transform, names=("VV", "VH"), BACKSCATTER_UNITS="power")
    full = read_raster(path)
    assert full.crs == UTM33 and full.transform == transform and full.band_names == ("VV", "VH")
    chip = read_sample(f"{path}#window=8,16,24,32")
    assert chip.raster.data.shape == (2, 32, 24)
    np.testing.assert_array_equal(chip.raster.data, data[:, 16:48, 8:32])
    assert chip.raster.transform == transform * rasterio.Affine.translation(8, 16)
    x, y = transform * (8 + 12, 16 + 16)  # the chip centre, from the raster's own transform
    assert x == 500_000
    assert chip.lonlat == pytest.approx(to_lonlat(32633, x, y), abs=1e-9)
    assert chip.lonlat[0] == pytest.approx(15.0, abs=1e-9)  # lon first: UTM 33's central meridian is 15 E
    assert 47.7 < chip.lonlat[1] < 47.9


def test_geographic_raster_lonlat_is_the_pixel_centre(tmp_path):
    transform = from_origin(-106.0, 40.5, 0.01, 0.01)
    path = write_tif(tmp_path / "geo.tif", np.ones((1, 10, 20), np.uint8), crs=CRS.from_epsg(4326), transform=transform)
    assert read_raster(path).lonlat == pytest.approx((-106.0 + 0.1, 40.5 - 0.05))


def test_iter_chips_tiles_a_scene_with_windowed_reads(tmp_path):
    data = np.random.default_rng(0).integers(1, 5000, size=(13, 70, 100), dtype=np.uint16)
    path = write_tif(tmp_path / "scene.tif", data, names=S2_BANDS)
    chips = list(iter_chips(path, size=32))
    assert len(chips) == 2 * 3
    assert [(c.window.col_off, c.window.row_off) for c in chips[:3]] == [(0, 0), (32, 0), (64, 0)]
    np.testing.assert_array_equal(chips[4].data, data[:, 32:64, 32:64])


def test_band_folder_is_resampled_onto_the_finest_grid(tmp_path):
    folder = tmp_path / "S2X_patch"
    folder.mkdir()
    for band, res in {"B02": 10, "B05": 20, "B01": 60, "B8A": 20}.items():
        n = 120 // (res // 10)
        grid = np.full((1, n, n), 1000 + S2_BANDS.index(band), np.uint16)
        write_tif(folder / f"S2X_patch_{band}.tif", grid, transform=from_origin(600_000, 5_800_000, res, res))
    raster = read_band_folder(folder, window=Window(10, 20, 64, 64))
    assert raster.data.shape == (4, 64, 64) and set(raster.band_names) == {"B01", "B02", "B05", "B8A"}
    for i, name in enumerate(raster.band_names):
        assert np.allclose(raster.data[i], 1000 + S2_BANDS.index(name))
    assert raster.transform == from_origin(600_000 + 100, 5_800_000 - 200, 10, 10)


def test_s1_units_are_declared_not_guessed_and_agree_after_conversion(tmp_path):
    power = np.random.default_rng(1).gamma(4.4, 0.05 / 4.4, size=(2, 16, 16)).astype(np.float32)
    domain = get_domain("remote_sensing")
    transform = domain.transform(domain.default_spec().replace(image_size=16), train=False)
    outs = []
    for units, values in {"power": power, "amplitude": np.sqrt(power), "dB": 10 * np.log10(power)}.items():
        path = write_tif(tmp_path / f"{units}.tif", values, names=("VV", "VH"), BACKSCATTER_UNITS=units)
        outs.append(transform(domain.read(path))["pixels"].numpy())
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-4)
    np.testing.assert_allclose(outs[0], outs[2], atol=1e-4)
    undeclared = write_tif(tmp_path / "undeclared.tif", power, names=("VV", "VH"))
    with pytest.raises(InputError, match=r"undeclared\.tif: Sentinel-1 backscatter units are not declared"):
        domain.read(undeclared)


# ------------------------------------------------------------------------------------------------ bad input


def test_wrong_band_count_is_named(tmp_path):
    domain = get_domain("remote_sensing")
    five = write_tif(tmp_path / "five.tif", np.ones((5, 8, 8), np.uint16), SENSOR="S2")
    with pytest.raises(InputError, match=r"five\.tif: wrong band count for the sensor: .*5 band"):
        domain.read(five)
    seven = write_tif(tmp_path / "seven.tif", np.ones((7, 8, 8), np.uint16))
    with pytest.raises(InputError, match=r"seven\.tif: .*7 band\(s\).* neither Sentinel-1"):
        domain.read(seven)
    partial = write_tif(tmp_path / "partial.tif", np.ones((4, 8, 8), np.uint16), names=("B02", "B03", "B04", "B08"))
    with pytest.raises(InputError, match=r"partial\.tif: wrong bands for S2 .*missing \['B01'"):
        domain.read(partial)


def test_all_nodata_chip_is_named(tmp_path):
    data = band_stack(S2_BANDS, h=64, w=64)
    data[:, :32, :32] = 0
    path = write_tif(tmp_path / "swath.tif", data, nodata=0, names=S2_BANDS)
    with pytest.raises(InputError, match=r"swath\.tif: chip holds no valid pixel \(all nodata\)"):
        get_domain("remote_sensing").read(f"{path}#window=0,0,32,32")
    assert get_domain("remote_sensing").read(f"{path}#window=32,32,32,32").raster.valid.all()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_pixels_are_named(tmp_path, bad):
    data = np.full((2, 8, 8), -12.0, np.float32)
    data[1, 3, 3] = bad
    path = write_tif(tmp_path / "bad.tif", data, names=("VV", "VH"), BACKSCATTER_UNITS="dB")
    kind = "1 NaN and 0 inf" if np.isnan(bad) else "0 NaN and 1 inf"
    with pytest.raises(InputError, match=rf"bad\.tif: {kind} pixel values not covered by a nodata mask"):
        get_domain("remote_sensing").read(path)


def test_nan_declared_as_nodata_is_masked_not_refused(tmp_path):
    data = np.full((2, 8, 8), -12.0, np.float32)
    data[:, 0, :] = np.nan
    path = write_tif(tmp_path / "nan-nodata.tif", data, nodata=np.nan, names=("VV", "VH"), BACKSCATTER_UNITS="dB")
    sample = get_domain("remote_sensing").read(path)
    assert not sample.raster.valid[:, 0].any() and sample.raster.valid[:, 1:].all()


def test_missing_crs_is_named_when_location_is_required(tmp_path):
    path = tmp_path / "nocrs.tif"
    with rasterio.open(
        path, "w", driver="GTiff", count=2, height=8, width=8, dtype="float32", BACKSCATTER_UNITS="dB"
    ) as dst:
        dst.write(np.full((2, 8, 8), -10.0, np.float32))
        dst.update_tags(BACKSCATTER_UNITS="dB")
    sample = read_sample(path)  # location is optional by default
    assert sample.lonlat is None
    with pytest.raises(InputError, match=r"nocrs\.tif: raster has no CRS, but a location \(lon/lat\) is required"):
        read_sample(path, require_location=True)


def test_a_jpeg_is_an_rgb_chip_which_a_sentinel_model_refuses_by_name(tmp_path):
    path = tmp_path / "photo.jpg"
    Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(path)
    domain = get_domain("remote_sensing")
    sample = domain.read(path)
    assert (sample.sensor, sample.bands) == ("rgb", ("red", "green", "blue"))
    transform = domain.transform(domain.default_spec(), train=False)
    with pytest.raises(InputError, match=r"photo\.jpg: this model has no encoder for RGB: it reads S1, S2; 3-band"):
        transform(sample)


def test_unreadable_files_and_bad_windows_are_named(tmp_path):
    domain = get_domain("remote_sensing")
    (tmp_path / "empty.tif").write_bytes(b"")
    (tmp_path / "text.tif").write_text("not a raster")
    with pytest.raises(InputError, match=r"missing\.tif: file not found"):
        domain.read(tmp_path / "missing.tif")
    with pytest.raises(InputError, match=r"empty\.tif: file is empty"):
        domain.read(tmp_path / "empty.tif")
    with pytest.raises(InputError, match=r"text\.tif: not a raster GDAL can read"):
        domain.read(tmp_path / "text.tif")
    path = write_tif(tmp_path / "small.tif", np.ones((2, 8, 8), np.float32), BACKSCATTER_UNITS="dB")
    with pytest.raises(InputError, match=r"small\.tif: window \(4, 4, 8, 8\) lies outside the 8x8 raster"):
        domain.read(f"{path}#window=4,4,8,8")
    with pytest.raises(InputError, match=r"small\.tif: window '1,2' must be col,row,width,height"):
        split_window(f"{path}#window=1,2")


def test_truncated_rasters_and_bad_band_files_say_what_gdal_found(tmp_path):
    tiled = {"tiled": True, "blockxsize": 16, "blockysize": 16, "compress": "deflate"}
    path = tmp_path / "scene.tif"
    with rasterio.open(path, "w", driver="GTiff", count=2, height=64, width=64, dtype="float32", crs=UTM33,
                       transform=from_origin(500_000, 4_650_000, 10, 10), **tiled) as dst:  # fmt: skip
        dst.write(np.random.default_rng(0).random((2, 64, 64), dtype=np.float32))
        dst.update_tags(BACKSCATTER_UNITS="dB")
    raw = path.read_bytes()
    cut = tmp_path / "cut.tif"  # the directory GDAL writes last is gone
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match=r"cut\.tif: not a raster GDAL can read: .*TIFFReadDirectory"):
        read_raster(cut)
    damaged = tmp_path / "damaged.tif"  # header intact, compressed tiles overwritten
    damaged.write_bytes(raw[:1024] + bytes(len(raw) // 2 - 1024) + raw[len(raw) // 2 :])
    with pytest.raises(InputError, match=r"damaged\.tif: corrupt raster data: .*IReadBlock failed") as err:
        read_raster(damaged)
    assert "See previous exception" not in str(err.value)
    folder = tmp_path / "S2A_patch"
    folder.mkdir()
    for band in ("B02", "B03", "B04"):
        write_tif(folder / f"S2A_patch_{band}.tif", np.ones((1, 16, 16), np.uint16))
    (folder / "S2A_patch_B08.tif").write_text("not a raster")
    with pytest.raises(InputError, match=r"S2A_patch_B08\.tif: unreadable band file \(B08\): .*not recognized"):
        read_band_folder(folder)


# ------------------------------------------------------------------------------------------------ real data

needs_shared = pytest.mark.skipif(not RS.is_dir(), reason="../shared/data/remote_sensing is absent")


@needs_shared
def test_real_bigearthnet_s2_patch_reads_as_13_bands_with_b10_filled():
    folder = next((RS / "bigearthnet_s2").iterdir())
    domain = get_domain("remote_sensing")
    sample = domain.read(folder)
    assert sample.sensor == "s2" and len(sample.bands) == 12 and "B10" not in sample.bands
    assert sample.raster.data.shape == (12, 120, 120) and sample.raster.crs == CRS.from_epsg(32629)
    meta = json.loads(next(folder.glob("*_labels_metadata.json")).read_text())["coordinates"]
    assert sample.raster.transform * (0, 0) == (meta["ulx"], meta["uly"])
    centre = to_lonlat(32629, (meta["ulx"] + meta["lrx"]) / 2, (meta["uly"] + meta["lry"]) / 2)
    assert sample.lonlat == pytest.approx(centre, abs=1e-9)
    assert -8 < sample.lonlat[0] < -6 and 52 < sample.lonlat[1] < 53  # south-east Ireland
    reflectance = sample.raster.data[sample.bands.index("B08")] / 10000
    assert 0.05 < float(reflectance.mean()) < 0.6  # vegetated: NIR reflectance on the plateau
    spec = domain.default_spec()
    pixels = domain.transform(spec, train=False)(sample)["pixels"]
    assert pixels.shape == (13, spec.image_size, spec.image_size) and sample.raster.filled_bands == ("B10",)


@needs_shared
def test_real_bigearthnet_s1_patch_reads_as_db_by_its_layout():
    folder = next((RS / "bigearthnet_s1").iterdir())
    sample = get_domain("remote_sensing").read(folder)
    assert sample.sensor == "s1" and set(sample.bands) == {"VV", "VH"} and sample.units == "dB"
    vv, vh = (sample.raster.data[sample.bands.index(b)] for b in ("VV", "VH"))
    assert -25 < float(np.median(vv)) < 0 and float(np.median(vh)) < float(np.median(vv))  # cross-pol is weaker


@needs_shared
def test_real_rgb_geotiff_nodata_is_honoured_and_refused_as_a_sentinel_input():
    path = RS / "rmnp-rgb.tif"
    raster = read_raster(path)
    with rasterio.open(path) as src:
        raw = src.read()
    np.testing.assert_array_equal(raster.valid, raw != 255)
    assert (~raster.valid).any() and raster.valid.any()
    lon, lat = raster.lonlat
    assert -106.1 < lon < -105.3 and 40.0 < lat < 40.7  # Rocky Mountain National Park
    domain = get_domain("remote_sensing")
    sample = domain.read(path)  # an RGB chip: an imported RGB model reads it, a Sentinel-1/2 model refuses it
    assert sample.sensor == "rgb"
    with pytest.raises(InputError, match=r"rmnp-rgb\.tif: this model has no encoder for RGB"):
        domain.transform(domain.default_spec(), train=False)(sample)
