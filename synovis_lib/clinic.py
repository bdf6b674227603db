"""The clinical test set: a simulated clinic, or your own images and rater scores.

The study tested on 156 power Doppler images of MCP joints from 74 patients,
graded by two experts, a third adjudicating their 29 disagreements; the
consensus labels were grade 0/1/2/3: 43/41/67/5. Those images are not public.
:func:`simulate_cohort` builds a stand-in: realistic screenshots from
:mod:`synovis_lib.ultrasound`, graded by simulated raters from
:mod:`synovis_lib.raters` and adjudicated by the study's rule
(:func:`synovis_lib.agreement.adjudicate`). :func:`load_clinic` reads real
images and a rater CSV into the same :class:`Cohort`, and
``synovis simulate-clinic`` writes a simulated cohort in that very format, so
the simulated and the real path are one code path.

Taught in ``notebooks/03_clinical_images_and_raters.ipynb``.
"""

from __future__ import annotations

import csv as _csv
import difflib
import importlib.util
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePath

import numpy as np
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from synovis_lib.agreement import adjudicate
from synovis_lib.config import show_progress
from synovis_lib.files import atomic_write, output_folder
from synovis_lib.grading import N_GRADES, load_rules
from synovis_lib.images import PYDICOM_HINT, read_image
from synovis_lib.notices import DataWarning
from synovis_lib.profiles import INPUT_SIZE
from synovis_lib.raters import DEFAULT_RATERS, RaterProfile, read_by_all
from synovis_lib.ultrasound import (
    GradedScene,
    render_scene,
    sample_examination,
    sample_scene,
    scene_masks,
    screenshot,
)

N_PATIENTS = 74
CONSENSUS_COUNTS = (43, 41, 67, 5)
"""The study's test set: images per consensus grade 0..3 (156 in all)."""
MAX_IMAGES_PER_PATIENT = 4
TRUE_GIVEN_CONSENSUS = np.array(
    [
        [0.80, 0.20, 0.00, 0.00],
        [0.20, 0.60, 0.20, 0.00],
        [0.00, 0.15, 0.75, 0.10],
        [0.00, 0.00, 0.50, 0.50],
    ]
)
"""Proposal for an image's true grade given its consensus slot (rows: consensus 0..3)."""

LABELS_FILE = "labels.csv"
KIND = "simulate-clinic"
"""The kind of output folder :func:`write_cohort` writes (:data:`synovis_lib.files.MARKER`)."""
COLUMNS = ("image", "patient_id", "rater_1", "rater_2", "rater_3", "consensus", "true_grade")
REQUIRED_COLUMNS = ("image", "patient_id", "rater_1", "rater_2")
OPTIONAL_COLUMNS = ("rater_3", "true_grade")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm")
GRADE_COLUMNS = ("rater_1", "rater_2", "rater_3", "consensus", "true_grade")
NO_THIRD_RATER = "raters 1 and 2 differ, no rater_3"
NO_MAJORITY = "raters 1, 2 and 3 all differ (no majority)"
"""Why an image has no consensus grade (:func:`no_consensus_reasons`)."""


@dataclass(frozen=True)
class Cohort:
    """Test images and their grades.

    ``table`` has one row per image (columns :data:`COLUMNS`; grades are
    nullable ``Int64``: ``rater_3`` is NA where raters 1 and 2 agree,
    ``consensus`` where there is no majority yet, ``true_grade`` for real
    images). ``images`` is uint8 ``(N, H, W, 3)`` in the table's order.
    ``source`` says where they came from (``"simulated"`` or the folder).
    """

    table: pd.DataFrame
    images: np.ndarray
    source: str
    synovium: np.ndarray | None = None
    """bool ``(N, H, W)``: each image's true synovium where it is known (the simulated
    cohort); ``None`` for a user's images. Notebook 06 measures where Grad-CAM looks."""

    def __post_init__(self) -> None:
        if len(self.table) != len(self.images):
            raise ValueError(f"{len(self.table)} table rows but {len(self.images)} images")
        if self.synovium is not None and self.synovium.shape != self.images.shape[:3]:
            raise ValueError(
                f"synovium masks {self.synovium.shape} do not match images {self.images.shape}"
            )

    def __len__(self) -> int:
        return len(self.table)

    def consensus_counts(self) -> pd.Series:
        """Images per consensus grade 0..3 (NA not counted)."""
        counts = self.table["consensus"].value_counts()
        return counts.reindex(range(N_GRADES), fill_value=0).rename("images")


# --------------------------------------------------------------------------- simulation


def _images_per_patient(rng: np.random.Generator, n_patients: int, n_images: int) -> np.ndarray:
    if not n_patients <= n_images <= MAX_IMAGES_PER_PATIENT * n_patients:
        raise ValueError(
            f"{n_images} images cannot come from {n_patients} patients with 1 to "
            f"{MAX_IMAGES_PER_PATIENT} images each"
        )
    counts = np.ones(n_patients, dtype=int)
    for _ in range(n_images - n_patients):
        open_ = np.flatnonzero(counts < MAX_IMAGES_PER_PATIENT)
        counts[rng.choice(open_)] += 1
    return counts


def _consensus_slots(
    rng: np.random.Generator, patient: np.ndarray, counts: tuple[int, ...]
) -> np.ndarray:
    """Deal the consensus grades to images: sicker patients get higher grades on all joints."""
    activity = rng.standard_normal(patient.max() + 1)[patient] + 0.6 * rng.standard_normal(
        patient.size
    )
    slots = np.empty(patient.size, dtype=int)
    slots[np.argsort(activity, kind="stable")] = np.repeat(np.arange(len(counts)), counts)
    return slots


def _grade_table(values: dict[str, object]) -> pd.DataFrame:
    table = pd.DataFrame(values)
    for column in GRADE_COLUMNS:
        table[column] = pd.array(table[column], dtype="Int64")
    return table[list(COLUMNS)]


def simulate_cohort(
    seed: int = 0,
    size: int = INPUT_SIZE,
    *,
    n_patients: int = N_PATIENTS,
    consensus_counts: tuple[int, ...] = CONSENSUS_COUNTS,
    raters: tuple[RaterProfile, RaterProfile, RaterProfile] = DEFAULT_RATERS,
    progress: bool = False,
) -> Cohort:
    """A simulated clinic: 156 screenshots from 74 patients with three raters' grades.

    How it is built (and why the consensus counts come out exact):

    1. each patient gets 1-4 images (156 in all), one examination (scanner and
       settings) and a disease activity;
    2. the study's consensus counts (43/41/67/5 by default) are dealt out to
       the images in order of activity, so a patient's joints resemble each
       other; these counts are therefore *fixed by design*, not an outcome;
    3. for each image a true grade is proposed from
       :data:`TRUE_GIVEN_CONSENSUS` given its consensus slot, a joint with
       that ground truth is simulated (:func:`synovis_lib.ultrasound.sample_scene`)
       and all three raters read it (:func:`synovis_lib.raters.read_by_all`);
    4. the draw is kept only if the study's rule
       (:func:`synovis_lib.agreement.adjudicate`: raters 1 and 2, rater 3
       where they differ) gives the slot's consensus; otherwise the image is
       drawn again (rejection sampling).

    So the consensus labels match the study exactly, while the agreement
    between raters 1 and 2 (kappa, number of disagreements) and the
    consensus-vs-truth errors are genuine outcomes of the image and rater
    models. The true grades follow the proposal table, thinned by the
    rejection step (a proposal far from what the raters would say is rarely
    kept). Rater 3's grade is kept only where raters 1 and 2 differ, as in
    the study.

    ``size`` only sets the render size: grades are decided on a fixed
    224-pixel grid (:data:`synovis_lib.ultrasound.LABEL_SIZE`), so the table
    is the same at every size. ``progress`` shows a progress bar while
    rendering.
    """
    if size < 32:
        raise ValueError(f"size must be at least 32 px, got {size}")
    if len(consensus_counts) != 4 or min(consensus_counts) < 0:
        raise ValueError(f"consensus_counts needs 4 non-negative counts, got {consensus_counts}")
    rng = np.random.default_rng(seed)
    rules = load_rules()
    n_images = int(sum(consensus_counts))
    per_patient = _images_per_patient(rng, n_patients, n_images)
    patient = np.repeat(np.arange(n_patients), per_patient)
    exams = [sample_examination(rng) for _ in range(n_patients)]
    slots = _consensus_slots(rng, patient, consensus_counts)

    scenes: list[GradedScene | None] = [None] * n_images
    grades = np.zeros((n_images, 3), dtype=int)
    pending = np.arange(n_images)
    for _ in range(200):
        drawn = []
        for i in pending:
            truth = int(rng.choice(4, p=TRUE_GIVEN_CONSENSUS[slots[i]]))
            scene = sample_scene(rng, exams[patient[i]], truth)
            drawn.append((scene, [r.grade for r in read_by_all(raters, scene, rng, rules)]))
        ratings = np.array([g for _, g in drawn]).reshape(-1, 3)
        consensus = adjudicate(ratings[:, 0], ratings[:, 1], ratings[:, 2]).consensus
        accepted = consensus.fillna(-1).to_numpy(dtype=int) == slots[pending]
        for j in np.flatnonzero(accepted):
            scenes[pending[j]], grades[pending[j]] = drawn[j][0], ratings[j]
        pending = pending[~accepted]
        if pending.size == 0:
            break
    else:
        raise RuntimeError(f"{pending.size} images found no draw matching their consensus slot")

    r1, r2, r3 = grades.T
    rater_3 = pd.array(np.where(r1 != r2, r3, 0), dtype="Int64")
    rater_3[r1 == r2] = pd.NA
    k = np.concatenate([np.arange(1, c + 1) for c in per_patient])
    table = _grade_table(
        {
            "image": [f"p{p + 1:03d}_img{j}.png" for p, j in zip(patient, k, strict=True)],
            "patient_id": [f"p{p + 1:03d}" for p in patient],
            "rater_1": r1,
            "rater_2": r2,
            "rater_3": rater_3,
            "consensus": adjudicate(r1, r2, rater_3).consensus.to_numpy(),
            "true_grade": [s.truth.grade for s in scenes],
        }
    )
    images = _render_all([s.scene for s in scenes], size, progress)
    synovium = np.stack([scene_masks(s.scene, size)[1] for s in scenes])
    return Cohort(table=table, images=images, source="simulated", synovium=synovium)


def _render_all(scenes: list, size: int, progress: bool) -> np.ndarray:
    images = np.empty((len(scenes), size, size, 3), dtype=np.uint8)
    for i, scene in enumerate(tqdm(scenes, desc="rendering", disable=not show_progress(progress))):
        images[i] = screenshot(scene, size)
    return images


def plot_truth(example: GradedScene, size: int = INPUT_SIZE):
    """One simulated joint three ways: the screenshot, the synovium and vessel masks that
    define its true grade, and the colour the screen shows (blooming, specks). Returns the
    figure; taught in notebook 03."""
    import matplotlib.pyplot as plt

    shot = render_scene(example.scene, size)
    fig, axes = plt.subplots(1, 3, figsize=(9.6, 3.6), layout="constrained")
    axes[0].imshow(shot.rgb)
    axes[0].set_title(f"screenshot (scanner {example.scene.scanner.name})")
    axes[1].imshow(shot.synovium, cmap="Blues", vmax=2)
    axes[1].contour(shot.vascular, levels=[0.5], colors="red")
    axes[1].set_title("synovium (blue) and vessels (red)")
    axes[2].imshow(shot.colour, cmap="Oranges")
    axes[2].set_title("colour on screen")
    for ax in axes:
        ax.axis("off")
    return fig


def save_npz(cohort: Cohort, path: Path) -> None:
    """Save a cohort (images and grade table) as one compressed ``.npz``, atomically."""
    arrays = {
        c: np.array(cohort.table[c].astype(str).tolist(), dtype=str)
        for c in ("image", "patient_id")
    }
    for column in GRADE_COLUMNS:
        arrays[column] = cohort.table[column].fillna(-1).to_numpy(dtype=np.int64)
    if cohort.synovium is not None:
        arrays["synovium"] = cohort.synovium
    with atomic_write(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, images=cohort.images, source=np.array(cohort.source), **arrays)


def load_npz(path: Path) -> Cohort:
    """A cohort saved by :func:`save_npz`."""
    with np.load(path, allow_pickle=False) as data:
        values = {c: data[c].tolist() for c in ("image", "patient_id")}
        for column in GRADE_COLUMNS:
            column_values = pd.array(data[column], dtype="Int64")
            column_values[data[column] < 0] = pd.NA
            values[column] = column_values
        return Cohort(
            table=_grade_table(values),
            images=data["images"],
            source=str(data["source"]),
            synovium=data["synovium"] if "synovium" in data else None,
        )


# --------------------------------------------------------------------------- files


def write_cohort(cohort: Cohort, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``cohort`` as PNG images plus ``labels.csv`` into the folder ``out``, atomically.

    The CSV has the columns :func:`load_clinic` reads (image, patient_id,
    rater_1, rater_2, rater_3 and, where known, true_grade; an empty cell is a
    missing grade). The consensus is not written: it is always derived by the
    study's rule when the folder is loaded. ``out`` must be new or empty; with
    ``overwrite`` it may also be an earlier ``synovis simulate-clinic`` output,
    replaced once the new folder is complete (:func:`synovis_lib.files.output_folder`).
    A folder of anything else, your own clinical images included, is never replaced.
    """
    out = Path(out)
    with output_folder(out, KIND, replace=overwrite) as tmp:
        for name, pixels in zip(cohort.table["image"], cohort.images, strict=True):
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(target, format="PNG")
        columns = [c for c in COLUMNS if c != "consensus"]
        cohort.table[columns].to_csv(tmp / LABELS_FILE, index=False)
    return out


def _row(csv: Path, i: int) -> str:
    return f"{csv.name}, data row {i + 1} (line {i + 2})"


_INTEGER = re.compile(r"^\s*[+-]?\d+(\.0*)?\s*$")


def _grades(column: pd.Series, name: str, csv: Path, required: bool) -> pd.array:
    values = pd.array([pd.NA] * len(column), dtype="Int64")
    for i, text in enumerate(column):
        text = text.strip()
        if not text:
            if required:
                raise ValueError(f"{_row(csv, i)}: {name} is empty; every image needs a grade")
            continue
        if not _INTEGER.match(text):
            raise ValueError(f"{_row(csv, i)}: {name} = {text!r} is not an integer grade 0-3")
        grade = int(float(text))
        if not 0 <= grade <= 3:
            raise ValueError(f"{_row(csv, i)}: {name} = {grade} is outside the grades 0-3")
        values[i] = grade
    return values


def _read_csv_strict(csv: Path) -> pd.DataFrame:
    """The CSV as strings, one column per header name, refusing what pandas would guess at.

    Read with the ``csv`` module rather than ``pandas.read_csv``, which turns
    the first fields of a row with too many into an index (so the ``image``
    column holds a grade) and renames a repeated header to ``rater_2.1``, both
    in silence.
    Blank lines are skipped; trailing empty fields (an Excel export) are fine.
    """
    try:
        with csv.open(encoding="utf-8-sig", newline="") as handle:
            rows = [row for row in _csv.reader(handle, skipinitialspace=True) if row]
    except (UnicodeDecodeError, _csv.Error) as exc:
        raise ValueError(f"{csv} is not a readable CSV file: {exc}") from exc
    if not rows:
        raise ValueError(f"{csv} is empty: expected a header with {list(REQUIRED_COLUMNS)}")
    header = [name.strip() for name in rows[0]]
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise ValueError(f"{csv}: column(s) {repeated} appear more than once in the header")
    width = len(header)
    for i, row in enumerate(rows[1:]):
        if any(field.strip() for field in row[width:]):
            raise ValueError(
                f"{_row(csv, i)}: {len(row)} fields, but the header has {width} columns"
            )
    body = [(row + [""] * width)[:width] for row in rows[1:]]
    return pd.DataFrame(body, columns=header, dtype=str)


def _normalised(name: str) -> str:
    return re.sub(r"[\s_-]", "", name).lower()


def _did_you_mean(columns: list[str], candidates: list[str]) -> str:
    guesses = [
        f"{match[0]!r} for {column!r}"
        for column in columns
        if (match := difflib.get_close_matches(column, candidates, n=1, cutoff=0.6))
    ]
    return f" (did you mean {', '.join(guesses)}?)" if guesses else ""


def _check_columns(csv: Path, header: list[str]) -> None:
    """Refuse a misspelled known column or a missing required one; warn about the rest.

    A header cell that equals a known column once lower-cased and stripped of
    spaces, underscores and hyphens (``rater3``, ``Rater_1``, ``True Grade``)
    but is not spelled exactly is an error, never ignored: an ignored
    ``rater3`` would leave every disagreement without a consensus. Other
    unknown columns (``notes``) are ignored with a warning, and so is a
    ``consensus`` column: the consensus is always derived by the study's rule.
    """
    known = {_normalised(c): c for c in COLUMNS}
    misspelled = [
        f"{name!r} (expected {known[_normalised(name)]!r})"
        for name in header
        if name not in COLUMNS and _normalised(name) in known
    ]
    if misspelled:
        raise ValueError(
            f"{csv}: column(s) {', '.join(misspelled)} are known columns misspelled; "
            f"rename them (the columns are spelled exactly {list(COLUMNS)})"
        )
    unknown = [name for name in header if name and name not in COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        hint = " (separate columns with commas, not semicolons)" if ";" in header[0] else ""
        raise ValueError(
            f"{csv} lacks column(s) {missing}{_did_you_mean(missing, unknown)}; it has "
            f"{header}{hint} (needed: {list(REQUIRED_COLUMNS)}, optional: "
            f"{list(OPTIONAL_COLUMNS)})"
        )
    if unknown:
        absent = [c for c in OPTIONAL_COLUMNS if c not in header]
        warnings.warn(
            f"{csv}: ignored column(s) {unknown}{_did_you_mean(absent, unknown)}",
            DataWarning,
            stacklevel=3,
        )
    if "consensus" in header:
        warnings.warn(
            f"{csv}: column 'consensus' is ignored; the consensus is derived from rater_1, "
            "rater_2 and rater_3 by the study's rule (the grade at least two raters gave)",
            DataWarning,
            stacklevel=3,
        )


def read_labels(csv: str | Path) -> pd.DataFrame:
    """Read and check a rater CSV; returns the columns of :data:`COLUMNS` (``consensus`` NA).

    Raises a FileNotFoundError or ValueError naming the file, the 1-based data
    row (the header is line 1) and the problem, or the column: a missing
    required column (with a close match: "did you mean"), or a known column
    spelled otherwise (``rater3`` for ``rater_3``). Warns about ignored columns
    (any other name, and ``consensus``, which is derived).
    """
    csv = Path(csv)
    if not csv.is_file():
        raise FileNotFoundError(f"rater CSV {csv} does not exist")
    raw = _read_csv_strict(csv)
    _check_columns(csv, list(raw.columns))
    if raw.empty:
        raise ValueError(f"{csv} has a header but no data rows")
    for i, (image, patient) in enumerate(zip(raw["image"], raw["patient_id"], strict=True)):
        if not image.strip():
            raise ValueError(f"{_row(csv, i)}: the image name is empty")
        if not patient.strip():
            raise ValueError(f"{_row(csv, i)} ({image.strip()!r}): patient_id is empty")
    values = {
        "image": [s.strip() for s in raw["image"]],
        "patient_id": [s.strip() for s in raw["patient_id"]],
    }
    for name in ("rater_1", "rater_2", "rater_3", "true_grade"):
        column = raw[name] if name in raw.columns else pd.Series([""] * len(raw))
        values[name] = _grades(column, name, csv, required=name in REQUIRED_COLUMNS)
    values["consensus"] = pd.array([pd.NA] * len(raw), dtype="Int64")
    return _grade_table(values)


def _image_paths(folder: Path, names: list[str], csv: Path) -> list[Path]:
    """Each image's path inside ``folder``; errors for escapes, duplicates and bad types."""
    root = folder.resolve()
    seen: dict[Path, int] = {}
    paths = []
    for i, name in enumerate(names):
        pure = PurePath(name.replace("\\", "/"))
        if pure.is_absolute() or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
            raise ValueError(
                f"{_row(csv, i)}: image {name!r} is an absolute path; give it relative to {folder}"
            )
        if ".." in pure.parts:
            raise ValueError(f"{_row(csv, i)}: image {name!r} points outside {folder} ('..')")
        path = (root / pure).resolve()
        if not path.is_relative_to(root):
            raise ValueError(f"{_row(csv, i)}: image {name!r} resolves outside {folder}")
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise ValueError(f"{_row(csv, i)}: image {name!r} is not one of {list(IMAGE_SUFFIXES)}")
        if path in seen:
            raise ValueError(
                f"{_row(csv, i)}: image {name!r} is listed twice (also data row {seen[path] + 1})"
            )
        seen[path] = i
        if not path.is_file():
            raise FileNotFoundError(f"{_row(csv, i)}: image {name!r} not found in {folder}")
        paths.append(path)
    if (
        any(p.suffix.lower() == ".dcm" for p in paths)
        and importlib.util.find_spec("pydicom") is None
    ):
        first = next(i for i, p in enumerate(paths) if p.suffix.lower() == ".dcm")
        raise ImportError(
            f"{_row(csv, first)}: {names[first]!r} is a DICOM file and reading it needs pydicom: "
            f"{PYDICOM_HINT}"
        )
    return paths


def no_consensus_reasons(table: pd.DataFrame) -> pd.Series:
    """Why each image of a cohort's table has no consensus grade, ``""`` where it has one:
    :data:`NO_THIRD_RATER` or :data:`NO_MAJORITY` (``"no consensus grade"`` if neither
    explains it). ``synovis train`` writes it in predictions.csv's ``reason`` column."""
    differ = (table["rater_1"] != table["rater_2"]).fillna(False).to_numpy(dtype=bool)
    third = table["rater_3"].notna().to_numpy()
    graded = table["consensus"].notna().to_numpy()
    reasons = np.select(
        [graded, differ & ~third, differ & third],
        ["", NO_THIRD_RATER, NO_MAJORITY],
        default="no consensus grade",
    )
    return pd.Series(reasons, index=table.index, name="reason", dtype=object)


def load_clinic(
    folder: str | Path, csv: str | Path | None = None, size: int = INPUT_SIZE
) -> Cohort:
    """Your own images and rater grades as a :class:`Cohort` (the same object the simulator gives).

    ``folder`` holds the images (PNG or JPEG, e.g. exported from the scanner,
    or DICOM with ``pip install 'synovis[dicom]'``); ``csv`` (default
    ``folder/labels.csv``) has the columns image (path relative to
    ``folder``), patient_id, rater_1, rater_2 and optionally rater_3 (only
    needed where raters 1 and 2 differ) and true_grade. Images are read as a
    viewer shows them (:func:`synovis_lib.images.read_image`: orientation,
    bit depth, photometric interpretation) and resized to ``size`` x ``size``.
    The consensus follows the study's rule; where rater 3 is missing
    altogether, disagreements have no consensus yet (NA).

    Nothing is dropped: an image without a consensus (raters 1 and 2 differ
    and there is no rater_3, or all three differ) stays in the cohort with
    consensus NA, and a warning names the CSV, how many images and why
    (:func:`no_consensus_reasons`). Ignored CSV columns are warned about too.

    Every problem raises before anything is returned, naming the file and the
    1-based data row or the column: a missing file (FileNotFoundError), an
    unreadable, truncated or unsupported image, a grade that is not an integer
    0-3, an image listed twice, a missing or misspelled column, a path that
    leaves the folder, an empty CSV (ValueError), a DICOM file without pydicom
    (ImportError). Taught in ``notebooks/03_clinical_images_and_raters.ipynb``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    csv = Path(csv) if csv is not None else folder / LABELS_FILE
    table = read_labels(csv)
    paths = _image_paths(folder, list(table["image"]), csv)
    differ = (table["rater_1"] != table["rater_2"]).to_numpy(dtype=bool)
    third = table["rater_3"].notna().to_numpy()
    if third.any():
        lacking = np.flatnonzero(differ & ~third)
        if lacking.size:
            rows = ", ".join(str(i + 1) for i in lacking[:10])
            raise ValueError(
                f"{csv.name}: rater_3 is missing on data row(s) {rows} where rater_1 and rater_2 "
                "differ; fill them in, or leave the whole column empty to list the pending images"
            )
    images = np.stack([read_image(p, size, _row(csv, i)) for i, p in enumerate(paths)])
    result = adjudicate(
        table["rater_1"], table["rater_2"], table["rater_3"] if third.any() else None
    )
    table["consensus"] = pd.array(result.consensus, dtype="Int64")
    reasons = no_consensus_reasons(table)
    lacking = np.flatnonzero(reasons.to_numpy() != "")
    if lacking.size:
        why = "; ".join(f"{r}: {n}" for r, n in Counter(reasons.iloc[lacking]).most_common())
        rows = ", ".join(str(i + 1) for i in lacking[:10]) + (", ..." if lacking.size > 10 else "")
        warnings.warn(
            f"{csv}: {lacking.size} of {len(table)} images have no consensus grade ({why}; "
            f"data row(s) {rows}); they are kept with consensus NA, not scored, and listed "
            "as unscored in synovis train's predictions.csv",
            DataWarning,
            stacklevel=2,
        )
    return Cohort(table=table, images=images, source=str(folder))
