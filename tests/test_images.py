"""Reading an image file as a viewer shows it (:mod:`synovis_lib.images`).

Tolerances: PNG, TIFF and uncompressed DICOM are lossless, so they must give
exactly the same pixels. JPEG at quality 95 must stay within a mean absolute
difference of 2 grey levels per channel (it measures about 0.5 on the test
picture, which has smooth edges like a Doppler blob). A YBR_FULL DICOM is
within 2 levels per pixel (two rounding steps of the colour conversion).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synovis_lib.imagefolder import read_image_folder
from synovis_lib.images import read_image

JPEG_MEAN_TOLERANCE = 2.0


def picture(height: int = 48, width: int = 64) -> np.ndarray:
    """A grey gradient with a soft red blob: uint8 RGB, neither square nor symmetric."""
    y, x = np.mgrid[0:height, 0:width]
    grey = 40 + 120 * x / (width - 1) + 40 * y / (height - 1)
    blob = np.exp(-((x - 40) ** 2 + (y - 20) ** 2) / 60)[..., None]
    rgb = grey[..., None] * (1 - blob) + blob * np.array([220, 60, 30])
    return np.round(rgb).astype(np.uint8)


def write_dicom(path: Path, pixels: np.ndarray, photometric: str, bits_stored: int = 8, **tags):
    """An uncompressed DICOM file of ``pixels`` (uint8 or uint16; ``(frames, rows, columns)``
    with a ``NumberOfFrames`` tag). Skips the test without pydicom."""
    pytest.importorskip("pydicom")
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    frame = pixels.shape[1:] if "NumberOfFrames" in tags else pixels.shape
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"  # ultrasound image storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    ds = Dataset()
    ds.file_meta = meta
    ds.Rows, ds.Columns = frame[:2]
    ds.SamplesPerPixel = 3 if len(frame) == 3 else 1
    if len(frame) == 3:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits_stored, bits_stored - 1, 0
    for name, value in tags.items():
        setattr(ds, name, value)
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def by_bits(values: np.ndarray, bits: int) -> np.ndarray:
    return np.round(values.astype(float) * 255 / (2**bits - 1)).astype(np.uint8)


def grey_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=2)


# --------------------------------------------------------------------------- one picture, any format


def test_the_same_picture_from_png_jpeg_and_dicom(tmp_path):
    pytest.importorskip("pydicom")
    from pydicom.pixels import convert_color_space

    rgb = picture()
    Image.fromarray(rgb).save(tmp_path / "p.png")
    Image.fromarray(rgb).save(tmp_path / "p.jpg", quality=95)
    write_dicom(tmp_path / "rgb.dcm", rgb, "RGB")
    ybr = convert_color_space(rgb, "RGB", "YBR_FULL")
    write_dicom(tmp_path / "ybr.dcm", ybr, "YBR_FULL")

    png = read_image(tmp_path / "p.png")
    assert png.dtype == np.uint8 and png.shape == (48, 64, 3)
    np.testing.assert_array_equal(png, rgb)
    jpeg = read_image(tmp_path / "p.jpg").astype(int)
    assert np.abs(jpeg - rgb).mean() < JPEG_MEAN_TOLERANCE
    np.testing.assert_array_equal(read_image(tmp_path / "rgb.dcm"), rgb)
    assert np.abs(read_image(tmp_path / "ybr.dcm").astype(int) - rgb).max() <= 2


def test_grey_8bit_dicom_gives_the_pixels_of_the_png_unstretched(tmp_path):
    grey = np.round(picture()[..., 0] * 0.5 + 40).astype(np.uint8)  # 60..150: room to stretch
    Image.fromarray(grey, mode="L").save(tmp_path / "g.png")
    write_dicom(tmp_path / "g.dcm", grey, "MONOCHROME2")
    png, dicom = read_image(tmp_path / "g.png"), read_image(tmp_path / "g.dcm")
    np.testing.assert_array_equal(png, grey_rgb(grey))
    np.testing.assert_array_equal(dicom, png)
    assert dicom.min() == grey.min() > 0 and dicom.max() == grey.max() < 255


def test_12_bit_dicom_maps_by_bits_stored_and_monochrome1_is_inverted(tmp_path):
    stored = np.arange(48, dtype=np.uint16).reshape(6, 8) * 80  # 0..3760 of 0..4095
    write_dicom(tmp_path / "m2.dcm", stored, "MONOCHROME2", bits_stored=12)
    write_dicom(tmp_path / "m1.dcm", stored, "MONOCHROME1", bits_stored=12)
    mono2 = read_image(tmp_path / "m2.dcm")
    np.testing.assert_array_equal(mono2, grey_rgb(by_bits(stored, 12)))
    assert mono2.max() == 234  # round(3760 * 255 / 4095), not stretched to 255
    inverted = grey_rgb(by_bits(4095 - stored, 12))  # white is 0 in MONOCHROME1
    np.testing.assert_array_equal(read_image(tmp_path / "m1.dcm"), inverted)
    signed = stored.astype(np.int16) - 2048  # -2048..1712: shifted up by 2048, then mapped
    write_dicom(tmp_path / "s.dcm", signed, "MONOCHROME2", 12, PixelRepresentation=1)
    np.testing.assert_array_equal(read_image(tmp_path / "s.dcm"), mono2)
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    write_dicom(tmp_path / "m1_8bit.dcm", grey, "MONOCHROME1")
    np.testing.assert_array_equal(read_image(tmp_path / "m1_8bit.dcm"), grey_rgb(255 - grey))


def test_a_dicom_window_or_voi_lut_is_applied(tmp_path):
    stored = np.arange(64, dtype=np.uint16).reshape(8, 8) * 64  # 0..4032
    write_dicom(
        tmp_path / "w.dcm",
        stored,
        "MONOCHROME2",
        bits_stored=12,
        WindowCenter=2048,
        WindowWidth=1024,
    )
    shown = read_image(tmp_path / "w.dcm")[..., 0]
    assert (shown[stored < 1536] == 0).all() and (shown[stored >= 2560] == 255).all()
    assert shown[stored == 2048].item() == 128  # the centre of the window is mid-grey
    from pydicom.dataset import Dataset

    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    lut = Dataset()
    lut.LUTDescriptor = [256, 0, 8]
    lut.LUTData = np.arange(255, -1, -1, dtype=np.uint16).tobytes()  # an inverting LUT
    write_dicom(tmp_path / "lut.dcm", grey, "MONOCHROME2", VOILUTSequence=[lut])
    np.testing.assert_array_equal(read_image(tmp_path / "lut.dcm"), grey_rgb(255 - grey))


def test_palette_color_dicom_is_looked_up_by_the_lut_bit_depth(tmp_path):
    index = np.arange(256, dtype=np.uint8).reshape(16, 16)
    red = (np.arange(256) * 257).astype(np.uint16)  # 16-bit entries: 0..65535
    tags = {f"{c}PaletteColorLookupTableDescriptor": [256, 0, 16] for c in ("Red", "Green", "Blue")}
    write_dicom(
        tmp_path / "pal.dcm",
        index,
        "PALETTE COLOR",
        RedPaletteColorLookupTableData=red.tobytes(),
        GreenPaletteColorLookupTableData=(red // 2).tobytes(),
        BluePaletteColorLookupTableData=red[::-1].tobytes(),
        **tags,
    )
    expected = np.stack([by_bits(lut[index], 16) for lut in (red, red // 2, red[::-1])], axis=2)
    np.testing.assert_array_equal(read_image(tmp_path / "pal.dcm"), expected)


# --------------------------------------------------------------------------- PNG, JPEG, TIFF


@pytest.mark.parametrize(("suffix", "orientation"), [(".png", 6), (".png", 8), (".jpg", 6)])
def test_an_exif_rotated_image_reads_upright(tmp_path, suffix, orientation):
    rgb = picture()
    # orientation 6: the viewer turns the stored image 90 degrees clockwise, 8: anticlockwise
    stored = np.rot90(rgb, 1 if orientation == 6 else -1)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"rotated{suffix}"
    Image.fromarray(np.ascontiguousarray(stored)).save(path, exif=exif, quality=95)
    upright = read_image(path)
    assert upright.shape == rgb.shape  # 48 x 64, not the stored 64 x 48
    if suffix == ".png":
        np.testing.assert_array_equal(upright, rgb)
    else:
        assert np.abs(upright.astype(int) - rgb).mean() < JPEG_MEAN_TOLERANCE


def test_8_bit_grey_is_never_stretched(tmp_path):
    Image.fromarray(np.full((10, 12), 128, np.uint8), mode="L").save(tmp_path / "c.png")
    Image.fromarray(np.full((10, 12), 128, np.uint8), mode="L").save(tmp_path / "c.jpg")
    for name in ("c.png", "c.jpg"):
        assert np.unique(read_image(tmp_path / name)).tolist() == [128]
        assert np.unique(read_image(tmp_path / name, size=16)).tolist() == [128]


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_grey_maps_by_bit_depth(tmp_path, suffix):
    Image.fromarray(np.full((6, 6), 1000, np.uint16)).save(tmp_path / f"c{suffix}")
    assert np.unique(read_image(tmp_path / f"c{suffix}")).tolist() == [4]  # 1000 * 255 / 65535
    ramp = np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000  # 0..63000, not 0..65535
    Image.fromarray(ramp).save(tmp_path / f"r{suffix}")
    np.testing.assert_array_equal(read_image(tmp_path / f"r{suffix}"), grey_rgb(by_bits(ramp, 16)))


def test_transparency_is_composited_on_black_and_palettes_looked_up(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = [200, 100, 50, 255]  # opaque: as stored
    rgba[0, 1] = [200, 100, 50, 128]  # half transparent: round(colour * 128 / 255)
    rgba[1, 0] = [255, 0, 0, 0]  # fully transparent red: black
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(
        read_image(tmp_path / "a.png"),
        [[[200, 100, 50], [100, 50, 25]], [[0, 0, 0], [0, 0, 0]]],
    )
    palette = Image.fromarray(np.array([[0, 1], [2, 1]], np.uint8), mode="P")
    palette.putpalette([10, 20, 30, 200, 0, 0, 0, 250, 0])
    palette.save(tmp_path / "p.png")
    np.testing.assert_array_equal(
        read_image(tmp_path / "p.png"), [[[10, 20, 30], [200, 0, 0]], [[0, 250, 0], [200, 0, 0]]]
    )
    palette.save(tmp_path / "pt.png", transparency=1)  # entry 1 transparent: black
    assert read_image(tmp_path / "pt.png")[0, 1].tolist() == [0, 0, 0]


def test_a_training_folder_is_read_by_the_same_rules(tmp_path):
    (tmp_path / "grade_1").mkdir()
    ramp = np.arange(48 * 64, dtype=np.uint16).reshape(48, 64) * 20  # 16-bit, 0..61420
    Image.fromarray(ramp).save(tmp_path / "grade_1" / "deep.png")
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = np.ascontiguousarray(np.rot90(picture(), 1))
    Image.fromarray(stored).save(tmp_path / "grade_1" / "turned.png", exif=exif)
    folder = read_image_folder(tmp_path)
    assert folder.labels.tolist() == [1, 1]
    np.testing.assert_array_equal(folder.images[0], grey_rgb(by_bits(ramp, 16)))
    np.testing.assert_array_equal(folder.images[1], picture())  # upright, so sizes agree


# --------------------------------------------------------------------------- refusals


def test_what_cannot_be_shown_is_refused_naming_the_file(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"broken\.png: not a readable image"):
        read_image(tmp_path / "broken.png")
    with pytest.raises(ValueError, match=r"^row 7: cannot read image 'broken\.png'"):
        read_image(tmp_path / "broken.png", where="row 7")
    Image.new("CMYK", (4, 4)).save(tmp_path / "print.tif")
    with pytest.raises(ValueError, match=r"print\.tif.*colour mode 'CMYK' is not supported"):
        read_image(tmp_path / "print.tif")
    frames = [Image.new("RGB", (4, 4), (c, 0, 0)) for c in (0, 255)]
    frames[0].save(tmp_path / "cine.png", save_all=True, append_images=frames[1:])
    with pytest.raises(ValueError, match=r"cine\.png.*2 frames"):
        read_image(tmp_path / "cine.png")
    loop = np.zeros((2, 4, 4), np.uint8)
    write_dicom(tmp_path / "loop.dcm", loop, "MONOCHROME2", NumberOfFrames=2)
    with pytest.raises(ValueError, match=r"loop\.dcm.*2 frames \(a cine loop\)"):
        read_image(tmp_path / "loop.dcm")
    write_dicom(tmp_path / "odd.dcm", picture(), "YBR_PARTIAL_420")
    with pytest.raises(ValueError, match=r"odd\.dcm.*interpretation 'YBR_PARTIAL_420'"):
        read_image(tmp_path / "odd.dcm")


def test_dicom_without_pydicom_says_how_to_install(tmp_path, monkeypatch):
    write_dicom(tmp_path / "scan.dcm", np.zeros((4, 4), np.uint8), "MONOCHROME2")
    monkeypatch.setitem(sys.modules, "pydicom", None)  # import pydicom now fails
    with pytest.raises(ImportError, match=r"'scan\.dcm' is a DICOM file .*synovis\[dicom\]"):
        read_image(tmp_path / "scan.dcm")
