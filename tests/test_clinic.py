"""The simulated clinic (image physics, cohort) and loading a user's own images."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from synovis_lib import cli, clinic, doppler, metrics, pipeline, ultrasound
from synovis_lib.agreement import rater_kappa
from synovis_lib.clinic import Cohort, load_clinic, simulate_cohort, write_cohort
from synovis_lib.grading import grade_from_masks
from synovis_lib.profiles import get_profile

SIZE = 32


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return simulate_cohort(seed=0, size=SIZE)


def small(seed: int, size: int = SIZE) -> Cohort:
    """A 20-image cohort: enough to test determinism without the full 156."""
    return simulate_cohort(seed=seed, size=size, n_patients=9, consensus_counts=(5, 6, 7, 2))


# --------------------------------------------------------------------------- image physics


@pytest.mark.parametrize("grade", [0, 1, 2, 3])
def test_sampled_scene_has_the_requested_ground_truth(grade):
    rng = np.random.default_rng(grade)
    graded = ultrasound.sample_scene(rng, ultrasound.sample_examination(rng), grade)
    vascular, synovium, colour = ultrasound.scene_masks(graded.scene, ultrasound.LABEL_SIZE)
    assert graded.truth.grade == grade
    assert grade_from_masks(vascular, synovium).grade == grade
    assert graded.truth.synovium_area == synovium.sum() > 200
    if grade == 3:
        assert graded.truth.coverage > 0.5
    # blooming: the screen paints at least as much colour as there are vessels
    assert colour.sum() >= (vascular & synovium).sum()


def test_vessels_outside_the_synovium_are_shown_but_not_graded():
    rng = np.random.default_rng(5)
    exam = ultrasound.sample_examination(rng)
    graded = next(
        g
        for g in (ultrasound.sample_scene(rng, exam, 1) for _ in range(60))
        if g.scene.extra_vessels
    )
    assert graded.truth.ignored_area > 0 and graded.truth.grade == 1
    without = ultrasound.grade_scene(dataclasses.replace(graded.scene, extra_vessels=()))
    assert without.truth.grade == graded.truth.grade
    assert without.truth.coverage == graded.truth.coverage


def test_screenshot_is_deterministic_and_looks_like_power_doppler():
    rng = np.random.default_rng(11)
    scene = ultrasound.sample_scene(rng, ultrasound.sample_examination(rng), 3).scene
    a = ultrasound.screenshot(scene, 64)
    assert a.dtype == np.uint8 and a.shape == (64, 64, 3)
    np.testing.assert_array_equal(a, ultrasound.screenshot(scene, 64))
    render = ultrasound.render_scene(scene, 64)
    r, g, b = (render.rgb[..., i].astype(int) for i in range(3))
    red = (r > g + 40) & (r > b + 40)
    assert red[render.colour].mean() > 0.5  # colour where the Doppler shows flow
    assert red[~render.colour].mean() < 0.05  # grey (or overlays) elsewhere
    with pytest.raises(ValueError, match="size"):
        ultrasound.screenshot(scene, 16)


def test_bone_casts_an_acoustic_shadow():
    rng = np.random.default_rng(2)
    scene = ultrasound.sample_scene(rng, ultrasound.sample_examination(rng), 0).scene
    grid = ultrasound.sector_grid(scene.scanner, scene.anatomy, 128)
    grey = ultrasound.bmode(scene, grid, np.random.default_rng(0))
    p = ultrasound.joint_profiles(scene.anatomy, grid.x)
    col = int(np.nanargmin(p.bone))  # the top of the metacarpal head
    bone_row = int(p.bone[col] / grid.mm_per_px)
    tendon = slice(
        int(p.tendon_top[col] / grid.mm_per_px) + 1, int(p.tendon_bottom[col] / grid.mm_per_px)
    )
    columns = slice(col - 3, col + 4)
    cortex = grey[bone_row - 1 : bone_row + 2, columns].max()
    shadow = grey[bone_row + 12 :, columns].mean()
    assert shadow < 0.15 < grey[tendon, columns].mean() < cortex
    assert cortex > 0.7


def test_examinations_vary_scanner_and_settings():
    rng = np.random.default_rng(0)
    scanners = [ultrasound.sample_scanner(rng) for _ in range(40)]
    assert {s.name for s in scanners} == {s.name for s in ultrasound.SCANNERS}
    assert len({round(s.gain_db, 3) for s in scanners}) == 40
    assert {s.colour_map for s in scanners} <= set(doppler.COLOUR_MAPS)


# --------------------------------------------------------------------------- cohort


def test_cohort_matches_the_study(cohort):
    table = cohort.table
    assert list(table.columns) == list(clinic.COLUMNS)
    assert len(cohort) == 156 and cohort.images.shape == (156, SIZE, SIZE, 3)
    assert cohort.images.dtype == np.uint8 and cohort.source == "simulated"
    per_patient = table.groupby("patient_id").size()
    assert len(per_patient) == 74 and per_patient.between(1, 4).all()
    assert cohort.consensus_counts().tolist() == [43, 41, 67, 5]
    assert table["image"].is_unique
    assert table["image"].str.fullmatch(r"p\d{3}_img[1-4]\.png").all()
    for column in clinic.GRADE_COLUMNS:
        assert str(table[column].dtype) == "Int64"
    differ = table["rater_1"] != table["rater_2"]
    assert table.loc[differ, "rater_3"].notna().all()
    assert table.loc[~differ, "rater_3"].isna().all()
    assert table["consensus"].notna().all() and table["true_grade"].notna().all()


def test_raters_agree_like_the_study(cohort):
    table = cohort.table
    kappa = rater_kappa(table["rater_1"], table["rater_2"])
    disagreements = int((table["rater_1"] != table["rater_2"]).sum())
    assert 0.72 <= kappa.kappa <= 0.88
    assert 20 <= disagreements <= 38
    # the consensus is a reference standard, not the truth: close to it, not identical to it
    assert 0.85 <= (table["consensus"] == table["true_grade"]).mean() <= 1.0


def test_same_seed_same_cohort_other_seed_differs_and_size_only_changes_pixels():
    a, b, c = small(1), small(1), small(2)
    pd.testing.assert_frame_equal(a.table, b.table)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    assert not a.table[["rater_1", "rater_2", "true_grade"]].equals(
        c.table[["rater_1", "rater_2", "true_grade"]]
    )
    assert a.consensus_counts().tolist() == [5, 6, 7, 2]
    bigger = small(1, size=48)
    pd.testing.assert_frame_equal(a.table, bigger.table)
    assert bigger.images.shape == (20, 48, 48, 3)


def test_bad_cohort_parameters():
    with pytest.raises(ValueError, match="patients"):
        simulate_cohort(n_patients=10, consensus_counts=(40, 1, 1, 1))
    with pytest.raises(ValueError, match="size"):
        simulate_cohort(size=8)


def test_write_then_load_round_trips_labels_and_pixels(cohort, tmp_path):
    out = write_cohort(cohort, tmp_path / "clinic")
    loaded = load_clinic(out, size=SIZE)
    pd.testing.assert_frame_equal(loaded.table, cohort.table)
    np.testing.assert_array_equal(loaded.images, cohort.images)
    assert loaded.source == str(out)
    with pytest.raises(FileExistsError):
        write_cohort(cohort, out)


def test_cli_writes_the_same_cohort(cohort, tmp_path, capsys):
    out = tmp_path / "sim"
    assert cli.main(["simulate-clinic", "--out", str(out), "--seed", "0", "--size", str(SIZE)]) == 0
    assert "43/41/67/5" in capsys.readouterr().out
    loaded = load_clinic(out, size=SIZE)
    pd.testing.assert_frame_equal(loaded.table, cohort.table)
    np.testing.assert_array_equal(loaded.images, cohort.images)
    assert cli.main(["simulate-clinic", "--out", str(out)]) == 2  # never overwrites silently
    assert "already exists (use --force to replace it)" in capsys.readouterr().err


def test_cohort_for_builds_once_then_loads_from_the_cache(cohort, monkeypatch):
    calls = []

    def fake(seed, size):
        calls.append((seed, size))
        return cohort

    monkeypatch.setattr(pipeline, "simulate_cohort", fake)
    profile = get_profile("ci", announce=False, seed=123)
    first = pipeline.cohort_for(profile)
    second = pipeline.cohort_for(profile)
    assert calls == [(123, profile.clinic_size or profile.image_size)]
    pd.testing.assert_frame_equal(second.table, cohort.table)
    np.testing.assert_array_equal(second.images, first.images)
    assert second.source == "simulated"


# --------------------------------------------------------------------------- your own images


def write_folder(tmp_path, rows: list[str], header: str = "image,patient_id,rater_1,rater_2"):
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    for name in ("a.png", "b.png"):
        Image.fromarray(np.full((10, 12, 3), 90, np.uint8)).save(folder / name)
    (folder / "labels.csv").write_text("\n".join([header, *rows]) + "\n")
    return folder


def test_loads_png_jpeg_and_grey_images_resized(tmp_path):
    folder = write_folder(
        tmp_path,
        ["a.png,p1,0,1,1", "b.png,p1,2,2,", "c.jpg,p2,3,2,2", "d.png,p2,1,1,"],
        header="image,patient_id,rater_1,rater_2,rater_3",
    )
    Image.fromarray(np.full((20, 30, 3), 200, np.uint8)).save(folder / "c.jpg")
    Image.fromarray(np.full((8, 8), 50, np.uint8), mode="L").save(folder / "d.png")
    loaded = load_clinic(folder, size=16)
    assert loaded.images.shape == (4, 16, 16, 3)
    assert loaded.table["consensus"].tolist() == [1, 2, 2, 1]
    assert loaded.table["true_grade"].isna().all()
    assert loaded.table["rater_3"].isna().tolist() == [False, True, False, True]
    assert abs(int(loaded.images[2].mean()) - 200) <= 3 and int(loaded.images[3].max()) == 50


def test_without_rater_3_disagreements_await_a_third_rating(tmp_path):
    folder = write_folder(tmp_path, ["a.png,p1,0,1", "b.png,p1,2,2"])
    expected = (
        r"labels\.csv: 1 of 2 images have no consensus grade "
        r"\(raters 1 and 2 differ, no rater_3: 1; data row\(s\) 1\); they are kept"
    )
    with pytest.warns(UserWarning, match=expected):
        table = load_clinic(folder, size=8).table
    assert table["consensus"].isna().tolist() == [True, False]
    assert len(table) == 2  # kept, not dropped


@pytest.mark.parametrize(
    ("rows", "error", "message"),
    [
        (["a.png,p1,0,0", "missing.png,p1,1,1"], FileNotFoundError, r"data row 2.*'missing\.png'"),
        (["a.png,p1,0,0", "b.png,p1,5,1"], ValueError, r"data row 2.*rater_1 = 5 is outside"),
        (["a.png,p1,2.5,1"], ValueError, r"data row 1.*rater_1 = '2\.5' is not an integer"),
        (["a.png,p1,1,two"], ValueError, r"data row 1.*rater_2 = 'two' is not an integer"),
        (["a.png,p1,,1"], ValueError, r"data row 1.*rater_1 is empty"),
        (["a.png,p1,1,1", "b.png,,1,1"], ValueError, r"data row 2.*patient_id is empty"),
        (["a.png,p1,1,1", "./a.png,p1,1,1"], ValueError, r"data row 2.*listed twice.*data row 1"),
        (["../a.png,p1,1,1"], ValueError, r"data row 1.*outside"),
        (["/etc/passwd.png,p1,1,1"], ValueError, r"data row 1.*absolute"),
        (["C:\\x\\a.png,p1,1,1"], ValueError, r"data row 1.*absolute"),
        (["a.gif,p1,1,1"], ValueError, r"data row 1.*not one of"),
        ([], ValueError, r"no data rows"),
        (["a.png,p1,1,1,1,1"], ValueError, r"data row 1.*6 fields, but the header has 4"),
    ],
)
def test_bad_rows_name_the_file_and_row(tmp_path, rows, error, message):
    folder = write_folder(tmp_path, rows)
    with pytest.raises(error, match=message):
        load_clinic(folder, size=8)


def test_a_link_that_escapes_the_folder_is_refused(tmp_path):
    folder = write_folder(tmp_path, ["a.png,p1,1,1", "link.png,p1,1,1"])
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "outside.png")
    (folder / "link.png").symlink_to(tmp_path / "outside.png")
    with pytest.raises(ValueError, match=r"data row 2.*'link\.png' resolves outside"):
        load_clinic(folder, size=8)


def test_missing_columns_and_empty_or_missing_csv(tmp_path):
    folder = write_folder(tmp_path, ["a.png,p1,1"], header="image,patient_id,rater_1")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['rater_2'\]"):
        load_clinic(folder)
    (folder / "labels.csv").write_text("image;patient_id;rater_1;rater_2\na.png;p1;1;1\n")
    with pytest.raises(ValueError, match="not semicolons"):
        load_clinic(folder)
    (folder / "labels.csv").write_text("\ufeffimage,patient_id,rater_1,rater_2\na.png,p1,1,1\n")
    assert load_clinic(folder, size=8).table["consensus"].tolist() == [1]  # Excel's BOM is fine
    (folder / "labels.csv").write_text("image,patient_id,rater_1,rater_2\na.png,p1,1,1,,\n")
    assert load_clinic(folder, size=8).table["rater_2"].tolist() == [1]  # trailing commas
    (folder / "labels.csv").write_text("image,patient_id,rater_1,rater_2,rater_2\na.png,p1,1,1,2\n")
    with pytest.raises(ValueError, match=r"\['rater_2'\] appear more than once"):
        load_clinic(folder)
    (folder / "labels.csv").write_text("")
    with pytest.raises(ValueError, match="empty"):
        load_clinic(folder)
    with pytest.raises(FileNotFoundError, match="rater CSV"):
        load_clinic(folder, folder / "nope.csv")
    with pytest.raises(FileNotFoundError, match="image folder"):
        load_clinic(tmp_path / "nowhere")


def test_unreadable_and_truncated_images_name_the_file(tmp_path):
    folder = write_folder(tmp_path, ["a.png,p1,1,1", "b.png,p1,1,1"])
    (folder / "b.png").write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"data row 2.*cannot read image 'b\.png'"):
        load_clinic(folder, size=8)
    big = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(big).save(folder / "b.png")
    data = (folder / "b.png").read_bytes()
    (folder / "b.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"data row 2.*cannot read image 'b\.png'"):
        load_clinic(folder, size=8)


def test_rater_3_missing_where_needed(tmp_path):
    folder = write_folder(
        tmp_path,
        ["a.png,p1,0,1,", "b.png,p1,1,2,2"],
        header="image,patient_id,rater_1,rater_2,rater_3",
    )
    with pytest.raises(ValueError, match=r"rater_3 is missing on data row\(s\) 1 "):
        load_clinic(folder, size=8)


def test_dicom_without_pydicom_says_how_to_install(tmp_path, monkeypatch):
    folder = write_folder(tmp_path, ["a.png,p1,1,1", "scan.dcm,p1,1,1"])
    (folder / "scan.dcm").write_bytes(b"\0" * 200)
    real = clinic.importlib.util.find_spec
    monkeypatch.setattr(
        clinic.importlib.util, "find_spec", lambda name: None if name == "pydicom" else real(name)
    )
    with pytest.raises(ImportError, match=r"data row 2.*synovis\[dicom\]"):
        load_clinic(folder, size=8)


def test_dicom_is_read_when_pydicom_is_installed(tmp_path):
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder = write_folder(tmp_path, ["scan.dcm,p1,1,1"])
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.Rows, ds.Columns = 8, 8
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    pixels = np.arange(64, dtype=np.uint16).reshape(8, 8) * 60  # 0..3780 of 0..4095
    ds.PixelData = pixels.tobytes()
    ds.save_as(folder / "scan.dcm", enforce_file_format=True)
    image = load_clinic(folder, size=8).images[0]
    # mapped by BitsStored (images.read_image), never stretched to the image's own range
    expected = np.round(pixels.astype(float) * 255 / 4095).astype(np.uint8)
    np.testing.assert_array_equal(image, np.repeat(expected[..., None], 3, axis=2))
    assert image.max() == 235


# --------------------------------------------------------------------------- columns


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("rater3", "rater_3"),
        ("Rater_1", "rater_1"),
        ("rater 2", "rater_2"),
        ("Image", "image"),
        ("patientid", "patient_id"),
        ("True Grade", "true_grade"),
        ("Consensus", "consensus"),
    ],
)
def test_a_misspelled_known_column_is_an_error_naming_it(tmp_path, written, expected):
    header = ["image", "patient_id", "rater_1", "rater_2"]
    header = [written if c == expected else c for c in header]
    if written not in header:
        header.append(written)
    row = ",".join(["a.png", "p1", "1", "1", "2"][: len(header)])
    folder = write_folder(tmp_path, [row], header=",".join(header))
    message = rf"labels\.csv: column\(s\) '{written}' \(expected '{expected}'\) are known"
    with pytest.raises(ValueError, match=message):
        load_clinic(folder, size=8)


def test_a_missing_column_with_a_close_match_says_did_you_mean(tmp_path):
    folder = write_folder(tmp_path, ["a.png,p1,1,1"], header="image,patient_id,rater_1,rater_two")
    with pytest.raises(
        ValueError,
        match=r"lacks column\(s\) \['rater_2'\] \(did you mean 'rater_two' for 'rater_2'\?\)",
    ):
        load_clinic(folder, size=8)


def test_unknown_and_consensus_columns_are_ignored_with_a_warning(tmp_path):
    folder = write_folder(
        tmp_path, ["a.png,p1,1,1,fine"], header="image,patient_id,rater_1,rater_2,notes"
    )
    with pytest.warns(UserWarning, match=r"labels\.csv: ignored column\(s\) \['notes'\]$"):
        assert load_clinic(folder, size=8).table["consensus"].tolist() == [1]
    folder = write_folder(
        tmp_path, ["a.png,p1,1,1,"], header="image,patient_id,rater_1,rater_2,rater_3rd"
    )
    with pytest.warns(
        UserWarning, match=r"\['rater_3rd'\] \(did you mean 'rater_3rd' for 'rater_3'"
    ):
        load_clinic(folder, size=8)
    # consensus is always derived by the study's rule: a given one (2 here) is ignored, and said so
    folder = write_folder(
        tmp_path, ["a.png,p1,1,1,2"], header="image,patient_id,rater_1,rater_2,consensus"
    )
    with pytest.warns(
        UserWarning, match=r"labels\.csv: column 'consensus' is ignored; the consensus is derived"
    ):
        assert load_clinic(folder, size=8).table["consensus"].tolist() == [1]


def test_each_image_without_a_consensus_says_why(tmp_path):
    folder = write_folder(
        tmp_path,
        ["a.png,p1,0,1,2", "b.png,p1,2,2,"],  # a: three different grades, no majority
        header="image,patient_id,rater_1,rater_2,rater_3",
    )
    with pytest.warns(UserWarning, match=r"1 of 2 images .*no majority\): 1; data row\(s\) 1\)"):
        cohort = load_clinic(folder, size=8)
    assert clinic.no_consensus_reasons(cohort.table).tolist() == [clinic.NO_MAJORITY, ""]
    pending = cohort.table.assign(rater_3=pd.array([pd.NA, pd.NA], dtype="Int64"))
    assert clinic.no_consensus_reasons(pending).tolist() == [clinic.NO_THIRD_RATER, ""]


class _Fixed:
    """A stand-in model: the same probabilities whatever it is shown."""

    def __init__(self, probs: np.ndarray) -> None:
        self.probs = probs

    def predict(self, images: np.ndarray) -> np.ndarray:
        assert len(images) == len(self.probs)
        return self.probs


def test_evaluate_scores_graded_images_and_keeps_the_others():
    probs = np.eye(4)[[0, 1, 2, 1, 3]] * 0.7 + 0.075
    truth = pd.array([0, pd.NA, 2, 2, pd.NA], dtype="Int64")
    reasons = ["", clinic.NO_THIRD_RATER, "", "", clinic.NO_MAJORITY]
    ev = metrics.evaluate(_Fixed(probs), np.zeros((5, 4, 4, 3), np.uint8), truth, reasons)
    assert ev.index.tolist() == [0, 2, 3] and ev.unscored.tolist() == [1, 4]
    assert ev.excluded == 2 and ev.n_images == 5
    assert ev.headline()["accuracy"] == pytest.approx(2 / 3)  # scored images only
    assert ev.reason_counts() == {clinic.NO_THIRD_RATER: 1, clinic.NO_MAJORITY: 1}
    assert ev.unscored_summary("consensus grade") == (
        f"2 of 5 images have no consensus grade ({clinic.NO_THIRD_RATER}: 1; "
        f"{clinic.NO_MAJORITY}: 1)"
    )
    rows = ev.per_image()
    assert rows["reference"].isna().tolist() == [False, True, False, False, True]
    assert rows["predicted"].tolist() == [0, 1, 2, 1, 3]
    assert rows["reason"].tolist() == reasons
    np.testing.assert_allclose(rows.filter(like="p_grade_").to_numpy(), probs)
    unnamed = metrics.evaluate(_Fixed(probs), np.zeros((5, 4, 4, 3), np.uint8), truth)
    assert unnamed.unscored_reasons == (metrics.NO_REFERENCE, metrics.NO_REFERENCE)


def test_train_lists_images_without_a_consensus_everywhere(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for grade in range(4):
        (tmp_path / "data" / f"grade_{grade}").mkdir(parents=True)
        for k in range(3):
            pixels = rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "data" / f"grade_{grade}" / f"g{grade}_{k}.png")
    clinic_dir = tmp_path / "clinic"
    clinic_dir.mkdir()
    rows = ["a.png,p1,0,0", "b.png,p1,0,1", "c.png,p2,2,2", "d.png,p2,3,2", "e.png,p3,1,1"]
    for row in rows:
        pixels = rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(clinic_dir / row.split(",")[0])
    (clinic_dir / "labels.csv").write_text("image,patient_id,rater_1,rater_2\n" + "\n".join(rows))
    out = tmp_path / "out"
    argv = ["train", "--profile", "ci", "--trials", "1", "--data", str(tmp_path / "data")]
    with pytest.warns(UserWarning, match=r"labels\.csv: 2 of 5 images have no consensus grade"):
        assert cli.main([*argv, "--clinic", str(clinic_dir), "--out", str(out)]) == 0
    assert (
        "2 of 5 images have no consensus grade (raters 1 and 2 differ, no rater_3: 2): "
        "listed in predictions.csv without a grade, not scored"
    ) in capsys.readouterr().out
    written = json.loads((out / "metrics.json").read_text())
    assert (written["images"], written["scored"], written["unscored"]) == (5, 3, 2)
    assert written["unscored_reason"] == {clinic.NO_THIRD_RATER: 2}
    predictions = pd.read_csv(out / "predictions.csv", keep_default_na=False)
    assert predictions["image"].tolist() == [r.split(",")[0] for r in rows]
    unscored = predictions["image"].isin(["b.png", "d.png"])
    assert (predictions.loc[unscored, "reference"] == "").all()
    assert (predictions.loc[unscored, "reason"] == clinic.NO_THIRD_RATER).all()
    assert (predictions.loc[~unscored, "reason"] == "").all()
    assert predictions.loc[~unscored, "reference"].astype(int).tolist() == [0, 2, 1]
    probs = predictions.filter(like="p_grade_").to_numpy(dtype=float)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert predictions["predicted"].tolist() == probs.argmax(axis=1).tolist()
    scored = predictions[~unscored]
    accuracy = (scored["reference"].astype(int) == scored["predicted"]).mean()
    assert written["trials"][0]["test_accuracy"] == pytest.approx(accuracy)


def test_simulated_cohort_knows_its_synovium_and_keeps_it_in_the_cache_file(cohort, tmp_path):
    from synovis_lib.clinic import load_npz, save_npz

    assert cohort.synovium.shape == cohort.images.shape[:3] and cohort.synovium.dtype == bool
    share = cohort.synovium.mean(axis=(1, 2))
    assert (share > 0.005).all() and (share < 0.5).all()  # a recess, never the whole screen
    save_npz(cohort, tmp_path / "c.npz")
    again = load_npz(tmp_path / "c.npz")
    assert np.array_equal(again.synovium, cohort.synovium)
    with pytest.raises(ValueError, match="synovium masks"):
        type(cohort)(cohort.table, cohort.images, "x", synovium=cohort.synovium[:, :4])
