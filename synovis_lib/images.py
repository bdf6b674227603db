"""Reading one image file as a viewer shows it: uint8 RGB, by the same rules for every format.

:func:`read_image` is how :func:`synovis_lib.clinic.load_clinic` reads the
clinical test images (taught in
``notebooks/03_clinical_images_and_raters.ipynb``) and how
:func:`synovis_lib.imagefolder.read_image_folder` reads a training folder
(``notebooks/02_artificial_training_set.ipynb``), so one picture gives the
same pixels whether it was exported as PNG, JPEG or DICOM, for training and
for testing alike. The rules:

- **Orientation.** An EXIF orientation tag (JPEG, PNG) is applied with
  ``PIL.ImageOps.exif_transpose``: a rotated phone photo reads upright.
- **8-bit greyscale** (and 1-bit) is copied into R, G and B as it is, with no
  contrast stretch: a constant grey 128 stays 128, never black.
- **16-bit greyscale PNG/TIFF** is mapped by its full bit depth,
  ``round(v * 255 / 65535)``, never by the image's own minimum and maximum.
- **Palette images** are looked up in their palette. **Transparency** (RGBA,
  LA, a palette with a transparent entry) is composited on black, as a viewer
  with a black background (the ultrasound background) shows it:
  ``round(colour * alpha / 255)``, so a fully transparent pixel is black
  whatever colour it stores.
- Embedded ICC colour profiles are not applied. Other colour modes (CMYK,
  32-bit integer or float greyscale, ...) are refused.
- **DICOM** (needs pydicom) honours the photometric interpretation:
  MONOCHROME2 as stored; MONOCHROME1 inverted over its range; RGB as stored;
  YBR_FULL and YBR_FULL_422 converted to RGB by pydicom (``as_rgb``); PALETTE
  COLOR through pydicom's ``apply_color_lut``, mapped by the LUT's bit depth.
  Other interpretations are refused. Values are mapped by BitsStored,
  ``v * 255 / (2**BitsStored - 1)`` (signed values first shifted up by
  ``2**(BitsStored - 1)``), so 8-bit pixels pass unchanged. A greyscale file
  with a VOI LUT or a window (centre/width) is shown through it instead:
  pydicom's ``apply_modality_lut`` (Rescale slope/intercept) and then
  ``apply_voi_lut``, whose output range maps to 0..255. A rescale without a
  window changes nothing, because the bit-depth map already shows the whole
  stored range.
- **One frame.** A file of several frames (a DICOM cine loop, an animated PNG,
  a multi-page TIFF) is refused. An MPO JPEG (phones, cameras) is read: its
  first frame is the picture, and the frames after it are extras (previews,
  depth maps).
- **Size.** With ``size``, the result is resized to ``size`` x ``size``
  (bicubic, like MATLAB's ``imresize``) after all of the above. Non-square
  images are squashed; crop them first if you prefer.

A file that is broken or not supported raises a ValueError naming it. A DICOM
file without pydicom raises an ImportError that says how to install it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps

if TYPE_CHECKING:
    from pydicom import Dataset

DICOM_SUFFIX = ".dcm"
PYDICOM_HINT = "pip install 'synovis[dicom]' (or pip install pydicom), or export the images as PNG"
"""How to read DICOM files: the end of the ImportError when pydicom is missing."""

_GREY_16 = ("I;16", "I;16B", "I;16L")
_TRANSPARENT = ("LA", "P", "PA", "RGBA")
_OPAQUE = ("1", "L", "RGB")
_RGB_PHOTOMETRIC = ("RGB", "YBR_FULL", "YBR_FULL_422")


def read_image(
    path: str | os.PathLike, size: int | None = None, where: str | None = None
) -> np.ndarray:
    """The image file ``path`` as uint8 ``(H, W, 3)`` (``(size, size, 3)`` with ``size``),
    read by the rules in this module's docstring.

    A ValueError for a broken or unsupported file starts with ``where`` and the
    file's name (``where``: e.g. the CSV row that lists it), or with the path
    when ``where`` is None.
    """
    path = Path(path)
    dicom = path.suffix.lower() == DICOM_SUFFIX
    try:
        rgb = _dicom_rgb(path) if dicom else _pil_rgb(path)
    except ModuleNotFoundError as exc:
        if not (dicom and (exc.name or "").startswith("pydicom")):
            raise
        raise ImportError(
            f"{where or path}: {path.name!r} is a DICOM file and reading it needs pydicom: "
            f"{PYDICOM_HINT}"
        ) from exc
    except Exception as exc:  # PIL and pydicom raise many kinds for broken files
        if where is None:
            raise ValueError(f"{path}: not a readable image ({exc})") from exc
        raise ValueError(f"{where}: cannot read image {path.name!r}: {exc}") from exc
    if size is not None and rgb.shape[:2] != (size, size):
        resized = Image.fromarray(rgb).resize((size, size), Image.Resampling.BICUBIC)
        rgb = np.asarray(resized, dtype=np.uint8)
    return rgb


def _by_depth(values: np.ndarray, bits: int) -> np.ndarray:
    """Values of a ``bits``-bit range as floats on 0..255."""
    return np.asarray(values, dtype=np.float64) * 255.0 / (2**bits - 1)


def _on_black(rgba: np.ndarray) -> np.ndarray:
    """RGBA floats on 0..255 composited on black: RGB floats on 0..255."""
    return rgba[..., :3] * rgba[..., 3:] / 255.0


def _as_uint8(rgb: np.ndarray, bits: int) -> np.ndarray:
    """Round floats on 0..255 to uint8; values outside mean the header's bit depth is wrong."""
    if rgb.size and (rgb.min() < -0.5 or rgb.max() > 255.5):
        raise ValueError(f"pixel values lie outside the {bits}-bit range the file declares")
    return np.round(rgb).astype(np.uint8)


def _pil_rgb(path: Path) -> np.ndarray:
    """A PNG, JPEG, TIFF, ... as uint8 RGB (one frame, upright, by the module's rules)."""
    with Image.open(path) as opened:
        frames = getattr(opened, "n_frames", 1)
        if frames > 1 and opened.format != "MPO":
            raise ValueError(f"it holds {frames} frames; export the frame you graded")
        image_format = opened.format
        image = ImageOps.exif_transpose(opened)
    mode = image.mode
    # older Pillow versions open a 16-bit greyscale PNG as "I" (a PNG holds at most 16 bits)
    if mode in _GREY_16 or (mode == "I" and image_format == "PNG"):
        grey = _as_uint8(_by_depth(image, 16), 16)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode in _TRANSPARENT:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float64)
        return _as_uint8(_on_black(rgba), 8)
    if mode in _OPAQUE:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    raise ValueError(
        f"colour mode {mode!r} is not supported; export 8-bit RGB, 8-bit greyscale "
        "or 16-bit greyscale"
    )


def _dicom_rgb(path: Path) -> np.ndarray:
    """One DICOM frame as uint8 RGB, by its photometric interpretation and bit depth."""
    import pydicom
    from pydicom.pixels import apply_color_lut, pixel_array

    data = pydicom.dcmread(path)
    frames = int(data.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise ValueError(f"it holds {frames} frames (a cine loop); export the frame you graded")
    photometric = str(data.get("PhotometricInterpretation", "")).strip()
    bits = int(data.BitsStored)
    stored = pixel_array(data, as_rgb=True)  # YBR_FULL and YBR_FULL_422 arrive as RGB
    if photometric in ("MONOCHROME1", "MONOCHROME2") and stored.ndim == 2:
        grey = _dicom_grey(data, stored, bits)
        if photometric == "MONOCHROME1":
            grey = 255.0 - grey
        rgb = np.repeat(grey[..., None], 3, axis=2)
    elif photometric in _RGB_PHOTOMETRIC and stored.ndim == 3:
        rgb = _by_depth(stored, bits)
    elif photometric == "PALETTE COLOR" and stored.ndim == 2:
        depth = int(data.RedPaletteColorLookupTableDescriptor[2])
        colours = _by_depth(apply_color_lut(stored, data), depth)
        rgb = _on_black(colours) if colours.shape[-1] == 4 else colours
        bits = depth
    else:
        raise ValueError(
            f"photometric interpretation {photometric!r} with pixel array shape "
            f"{stored.shape} is not supported; MONOCHROME1/2, RGB, YBR_FULL(_422) and "
            "PALETTE COLOR are"
        )
    return _as_uint8(rgb, bits)


def _dicom_grey(data: Dataset, stored: np.ndarray, bits: int) -> np.ndarray:
    """Greyscale DICOM values as floats on 0..255: through the VOI LUT or window the file
    has (after its modality LUT or rescale), otherwise by BitsStored."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    if data.get("VOILUTSequence"):
        modality = np.rint(apply_modality_lut(stored, data)).astype(np.int64)
        depth = int(data.VOILUTSequence[0].LUTDescriptor[2])
        return _by_depth(apply_voi_lut(modality, data), depth)
    if "WindowCenter" in data and "WindowWidth" in data:
        shown = apply_voi_lut(apply_modality_lut(stored, data), data)
        # the window sends everything below it to its lowest output, above it to its highest
        low, high = apply_voi_lut(np.array([-np.inf, np.inf]), data)
        return (shown - low) * 255.0 / (high - low)
    signed = int(data.get("PixelRepresentation", 0)) == 1
    return _by_depth(stored.astype(np.float64) + (2 ** (bits - 1) if signed else 0), bits)
