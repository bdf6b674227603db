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
from PIL import Image, UnidentifiedImageError
from torchvision.datasets import ImageFolder

from synovis_lib import files
from synovis_lib.synth import TrainingSet


def write_image_folder(training_set: TrainingSet, out: str | os.PathLike) -> Path:
    """Write ``out/grade_<g>/<id>.png`` for every image plus ``out/manifest.csv``, atomically
    (an ImageFolder layout that ``torchvision.datasets.ImageFolder`` reads). An existing
    ``out`` is replaced only if it is empty or an earlier output (it has a manifest.csv)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} is a file, not a folder; choose a new or empty folder")
    if out.exists() and any(out.iterdir()) and not (out / "manifest.csv").is_file():
        raise FileExistsError(
            f"{out} exists and is not an image folder written by synovis (no manifest.csv); "
            "choose a new or empty folder"
        )
    with files.atomic_dir(out) as tmp:
        paths = []
        for image, row in zip(
            training_set.images, training_set.provenance.itertuples(), strict=True
        ):
            relative = Path(f"grade_{row.grade}") / f"{row.id}.png"
            (tmp / relative.parent).mkdir(exist_ok=True)
            Image.fromarray(image).save(tmp / relative, format="PNG")
            paths.append(relative.as_posix())
        manifest = training_set.provenance.assign(file=paths)
        manifest.to_csv(tmp / "manifest.csv", index=False)
    return out


def read_image_folder(folder: str | Path, size: int | None = None):
    """Read an ImageFolder (``grade_0`` .. ``grade_3`` subfolders, as ``synovis generate``
    writes) into a :class:`synovis_lib.synth.TrainingSet`, resizing to ``size`` if given.

    Raises ``FileNotFoundError`` for a missing folder and ``ValueError`` naming
    the folder or file for a class folder that is not a grade, an unreadable
    image or, without ``size``, images of different sizes.
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
        try:
            with Image.open(path) as image:
                rgb = image.convert("RGB")
        except (OSError, UnidentifiedImageError) as err:
            raise ValueError(f"{path}: not a readable image ({err})") from err
        if size is not None and rgb.size != (size, size):
            rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
        if images and rgb.size != images[0].shape[1::-1]:
            raise ValueError(f"{path} is {rgb.size[0]}x{rgb.size[1]}, unlike the others; pass size")
        images.append(np.asarray(rgb, dtype=np.uint8))
        rows.append({"id": Path(path).stem, "grade": grade_of[index]})
    provenance = pd.DataFrame(rows)
    return TrainingSet(np.stack(images), provenance["grade"].to_numpy(np.int64), provenance)
