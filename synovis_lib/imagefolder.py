"""Artificial images as an ImageFolder: ``grade_0`` .. ``grade_3`` subfolders and a manifest.

:func:`write_image_folder` writes a :class:`synovis_lib.synth.TrainingSet` as
PNG files that ``torchvision.datasets.ImageFolder`` (and MATLAB's
``imageDatastore`` with ``LabelSource="foldernames"``) read, with its
provenance in ``manifest.csv``; :func:`read_image_folder` reads such a folder,
or a folder of the reader's own drawings, back. ``synovis generate`` and
``synovis train --data`` use them.

Taught in ``notebooks/02_artificial_training_set.ipynb``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from torchvision.datasets import ImageFolder

from synovis_lib import files
from synovis_lib.images import read_image
from synovis_lib.synth import TrainingSet, check_id

KIND = "generate"
"""The kind of output folder :func:`write_image_folder` writes (:data:`synovis_lib.files.MARKER`)."""


def write_image_folder(training_set: TrainingSet, out: str | os.PathLike) -> Path:
    """Write ``out/grade_<g>/<id>.png`` for every image plus ``out/manifest.csv`` (an
    ImageFolder layout that ``torchvision.datasets.ImageFolder`` reads), swapped in whole
    by :func:`synovis_lib.files.output_folder`: ``out`` must be new, empty or an earlier
    ``synovis generate`` output. Ids must be safe file names
    (:func:`synovis_lib.synth.check_id`)."""
    out = Path(out)
    ids = [
        check_id(str(i), f"image id in row {n + 1}")
        for n, i in enumerate(training_set.provenance["id"])
    ]
    with files.output_folder(out, KIND) as tmp:
        paths = []
        for image, grade, image_id in zip(
            training_set.images, training_set.provenance["grade"], ids, strict=True
        ):
            relative = Path(f"grade_{grade}") / f"{image_id}.png"
            (tmp / relative.parent).mkdir(exist_ok=True)
            Image.fromarray(image).save(tmp / relative, format="PNG")
            paths.append(relative.as_posix())
        manifest = training_set.provenance.assign(file=paths)
        manifest.to_csv(tmp / "manifest.csv", index=False)
    return out


def read_image_folder(folder: str | Path, size: int | None = None):
    """Read an ImageFolder (``grade_0`` .. ``grade_3`` subfolders, as ``synovis generate``
    writes) into a :class:`synovis_lib.synth.TrainingSet`, resizing to ``size`` if given.

    Each image is read by the same rules as the clinical test images
    (:func:`synovis_lib.images.read_image`: EXIF orientation, greyscale by bit
    depth, transparency on black; bicubic resizing).

    Raises ``FileNotFoundError`` for a missing folder and ``ValueError`` naming
    the folder or file for a class folder that is not a grade, an unreadable
    or unsupported image or, without ``size``, images of different sizes.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"training image folder {folder} does not exist")
    dataset = ImageFolder(folder, allow_empty=True)
    grade_of = {}
    for name, index in dataset.class_to_idx.items():
        match = re.fullmatch(r"(?:grade_?)?([0-3])", name)
        if match is None:
            raise ValueError(f"{folder / name}: class folders must be named grade_0 .. grade_3")
        grade_of[index] = int(match.group(1))
    if not dataset.samples:
        raise ValueError(f"{folder} has no images in grade_0 .. grade_3 subfolders")
    images, rows = [], []
    for path, index in dataset.samples:
        rgb = read_image(path, size)
        if images and rgb.shape != images[0].shape:
            height, width = rgb.shape[:2]
            raise ValueError(f"{path} is {width}x{height}, unlike the others; pass size")
        images.append(rgb)
        rows.append({"id": Path(path).stem, "grade": grade_of[index]})
    provenance = pd.DataFrame(rows)
    return TrainingSet(np.stack(images), provenance["grade"].to_numpy(np.int64), provenance)
