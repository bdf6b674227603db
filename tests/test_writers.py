"""Writers never destroy what synovis did not write, never mix two outputs, and survive a kill.

Every command that writes a folder goes through :func:`synovis_lib.files.output_folder`
(or :func:`~synovis_lib.files.claim_folder` for ``run-notebooks``); the cache survives a
damaged entry.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

from synovis_lib import cli, files
from synovis_lib.cache import CacheWarning, cache_path, cached
from synovis_lib.files import MARKER, check_output_folder, claim_folder, output_folder

ROOT = Path(__file__).resolve().parent.parent


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _users_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "mine"
    (folder / "src").mkdir(parents=True)
    (folder / "notes.txt").write_text("three years of notes")
    (folder / "src" / "main.py").write_text("print('hello')\n")
    return folder


# --------------------------------------------------------------------------- the rule


def test_output_folder_refuses_a_folder_synovis_did_not_write(tmp_path):
    folder = _users_folder(tmp_path)
    before = _snapshot(folder)
    with pytest.raises(FileExistsError, match=r"mine is not empty \(notes.txt, src\)"):
        with output_folder(folder, "generate") as tmp:
            (tmp / "x").write_text("x")
    assert _snapshot(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_output_folder_replaces_its_own_output_whole_and_marks_it(tmp_path):
    target = tmp_path / "out"
    with output_folder(target, "generate") as tmp:
        (tmp / "old_only.txt").write_text("1")
        (tmp / "both.txt").write_text("old")
    assert files.read_json(target / MARKER)["kind"] == "generate"
    with output_folder(target, "generate") as tmp:
        (tmp / "both.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == [MARKER, "both.txt"]
    assert (target / "both.txt").read_text() == "new"
    with pytest.raises(
        FileExistsError, match="output of 'synovis generate', not of 'synovis train'"
    ):
        check_output_folder(target, "train")
    with (
        pytest.raises(FileExistsError, match="already exists"),
        output_folder(target, "generate", replace=False),
    ):
        pass


def test_an_empty_folder_is_taken_and_a_failed_write_changes_nothing(tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    with pytest.raises(RuntimeError), output_folder(target, "cv") as tmp:
        (tmp / "half.txt").write_text("half")
        raise RuntimeError("interrupted")
    assert list(target.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if "synovis-tmp" in p.name] == []


def test_a_second_writer_is_refused_while_the_first_writes(tmp_path):
    target = tmp_path / "out"
    with output_folder(target, "generate") as tmp:
        (tmp / "a").write_text("a")
        with pytest.raises(FileExistsError, match="another synovis process is writing"):
            with output_folder(target, "generate"):
                pass
        with pytest.raises(FileExistsError, match="another synovis process is writing"):
            with claim_folder(target, "generate"):
                pass
    assert (target / "a").read_text() == "a"


def test_leftovers_of_a_killed_run_are_cleaned_and_a_set_aside_folder_restored(tmp_path):
    target = tmp_path / "out"
    with output_folder(target, "train") as tmp:
        (tmp / "metrics.json").write_text("{}")
    stale = tmp_path / ".out.synovis-tmp-abc123"
    stale.mkdir()
    (stale / "half.png").write_bytes(b"\x89PNG")
    # a kill between the fallback's two renames: the old output set aside, nothing at target
    os.replace(target, tmp_path / ".out.synovis-old-def456")
    with output_folder(target, "train") as tmp:
        assert sorted(p.name for p in target.iterdir()) == [MARKER, "metrics.json"]
        (tmp / "metrics.json").write_text('{"new": 1}')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_claim_folder_marks_in_place_and_refuses_foreign_folders(tmp_path):
    target = tmp_path / "runs"
    with claim_folder(target, "run-notebooks") as folder:
        (folder / "01.ipynb").write_text("{}")
    with claim_folder(target, "run-notebooks"):
        assert (target / "01.ipynb").exists()  # kept: run-notebooks reuses finished notebooks
    with pytest.raises(FileExistsError, match="synovis did not write it"):
        with claim_folder(_users_folder(tmp_path), "run-notebooks"):
            pass


# --------------------------------------------------------------------------- the commands


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "--size", "16", "--counts", "1", "1", "1", "1"],
        ["generate", "--size", "16", "--counts", "1", "1", "1", "1", "--seed", "3"],
        ["simulate-clinic", "--size", "32", "--force"],
        ["train", "--profile", "ci"],
        ["cv", "--profile", "ci", "--method", "centroid"],
        ["second-model", "--profile", "ci"],
        ["run-notebooks", "--profile", "ci", "--only", "01"],
    ],
)
def test_every_command_refuses_a_users_folder_before_any_work(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SYNOVIS_CACHE", str(tmp_path / "cache"))
    folder = _users_folder(tmp_path)
    before = _snapshot(folder)
    assert cli.main([*argv, "--out", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(folder) in err[0] and "synovis did not write it" in err[0]
    assert _snapshot(folder) == before
    cache = tmp_path / "cache"
    assert not cache.exists() or not any(cache.rglob("*.*")), "work was done before refusing"


def test_out_inside_the_package_or_read_only_is_refused(tmp_path, capsys, monkeypatch):
    inside = Path(files.__file__).parent / "data" / "out"
    assert cli.main(["generate", "--out", str(inside)]) == 2
    assert "inside the synovis package" in capsys.readouterr().err
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.geteuid() == 0:  # root may write anywhere: let the check see what a user would
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode)
        )
    try:
        assert cli.main(["generate", "--out", str(locked / "new")]) == 2
        err = capsys.readouterr().err
        assert f"{locked} is not writable" in err and len(err.splitlines()) == 1
    finally:
        locked.chmod(0o755)


def test_simulate_clinic_without_force_refuses_its_own_output(tmp_path, capsys):
    out = tmp_path / "clinic"
    from synovis_lib.clinic import simulate_cohort, write_cohort

    write_cohort(simulate_cohort(seed=0, size=32), out)
    before = _snapshot(out)
    assert cli.main(["simulate-clinic", "--out", str(out), "--size", "32"]) == 2
    assert "use --force" in capsys.readouterr().err
    assert _snapshot(out) == before


def test_generate_again_leaves_nothing_of_the_earlier_output(tmp_path):
    out = tmp_path / "data"
    assert (
        cli.main(["generate", "--out", str(out), "--size", "16", "--counts", "3", "0", "0", "0"])
        == 0
    )
    assert (
        cli.main(["generate", "--out", str(out), "--size", "16", "--counts", "0", "2", "0", "0"])
        == 0
    )
    manifest = pd.read_csv(out / "manifest.csv")
    pngs = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert pngs == sorted(manifest["file"]) and len(pngs) == 2
    assert not (out / "grade_0").exists()


# --------------------------------------------------------------------------- kill -9


def _complete_generate(out: Path) -> tuple[int, ...]:
    """The counts a complete ``generate`` folder holds (its manifest matches its files)."""
    manifest = pd.read_csv(out / "manifest.csv")
    pngs = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert pngs == sorted(manifest["file"]), "manifest and images disagree: a mixed folder"
    assert files.read_json(out / MARKER)["kind"] == "generate"
    return tuple(int((manifest["grade"] == g).sum()) for g in range(4))


def _run_cli(argv: list[str], out: Path, kill_after: float | None = None) -> bool:
    """Run ``synovis ARGV`` in a child writing ``out``; with ``kill_after``, SIGKILL it that
    many seconds after its temporary output folder appears (while it writes). Returns
    whether it was killed before it finished."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "synovis_lib.cli", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if kill_after is None:
        return proc.wait() != 0
    pattern = f".{out.name}.synovis-tmp-*"
    while proc.poll() is None and not any(out.parent.glob(pattern)):
        time.sleep(0.002)
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    return proc.wait() == -signal.SIGKILL


def _leftovers(folder: Path) -> list[str]:
    return sorted(
        p.name for p in folder.iterdir() if "synovis-tmp" in p.name or "synovis-old" in p.name
    )


def test_generate_killed_at_random_moments_leaves_old_or_new(tmp_path):
    out = tmp_path / "data"
    old = ["generate", "--out", str(out), "--size", "32", "--counts", "4", "4", "4", "4"]
    new = ["generate", "--out", str(out), "--size", "32", "--counts", "30", "30", "30", "0"]
    assert cli.main(old) == 0
    rng = random.Random(0)
    killed = 0
    for i in range(5):
        killed += _run_cli(old if i % 2 else new, out, rng.uniform(0.0, 0.15))
        assert _complete_generate(out) in {(4, 4, 4, 4), (30, 30, 30, 0)}
    assert killed >= 3  # most kills fell while the images were being written
    assert cli.main(old) == 0  # the next run cleans what the kills left
    assert _complete_generate(out) == (4, 4, 4, 4)
    assert _leftovers(tmp_path) == []


def test_simulate_clinic_killed_at_random_moments_leaves_old_or_new(tmp_path):
    from synovis_lib.clinic import load_clinic

    out = tmp_path / "clinic"
    argv = ["simulate-clinic", "--out", str(out), "--size", "32", "--force"]
    assert cli.main([*argv, "--seed", "1"]) == 0
    old = load_clinic(out, size=32)
    assert cli.main([*argv, "--seed", "2"]) == 0
    new = load_clinic(out, size=32)
    assert not new.table.equals(old.table)
    rng = random.Random(1)
    killed = 0
    for i in range(4):
        killed += _run_cli([*argv, "--seed", str(1 + i % 2)], out, rng.uniform(0.0, 0.15))
        now = load_clinic(out, size=32)  # complete: every listed image reads
        assert any(
            now.table.equals(c.table) and (now.images == c.images).all() for c in (old, new)
        ), "a mix of two cohorts"
    assert killed >= 2
    assert cli.main([*argv, "--seed", "1"]) == 0
    pd.testing.assert_frame_equal(load_clinic(out, size=32).table, old.table)
    assert _leftovers(tmp_path) == []


def _complete_run(out: Path) -> int:
    """The number of trials a complete ``synovis train`` folder holds (all files agree)."""
    metrics = files.read_json(out / "metrics.json")
    predictions = pd.read_csv(out / "predictions.csv")
    figures = sorted(p.name for p in (out / "figures").iterdir())
    n = len(metrics["trials"])
    assert predictions["trial"].nunique() == n == len(files.read_json(out / "weights.json"))
    assert len(figures) == 2 * n, figures
    return n


def test_train_killed_while_writing_leaves_old_or_new(tmp_path):
    out = tmp_path / "run"
    argv = ["train", "--profile", "ci", "--out", str(out)]
    assert cli.main(argv) == 0
    assert _run_cli([*argv, "--trials", "2"], out) is False  # trains and caches trial 1
    assert _complete_run(out) == 2
    rng = random.Random(3)
    killed = 0
    for i in range(3):
        killed += _run_cli(argv if i % 2 else [*argv, "--trials", "2"], out, rng.uniform(0, 0.3))
        assert _complete_run(out) in (1, 2)
    assert killed >= 2
    assert cli.main(argv) == 0 and _complete_run(out) == 1
    assert _leftovers(tmp_path) == []


def test_a_writer_killed_while_writing_results_leaves_old_or_new(tmp_path):
    """``train``, ``cv`` and ``second-model`` write their results through ``output_folder``;
    a child killed at random moments while filling it (slowly, file by file) never leaves
    a mix of the two runs."""
    out = tmp_path / "results"
    script = (
        "import sys, time\n"
        "from synovis_lib.files import output_folder\n"
        "with output_folder(sys.argv[1], 'train') as tmp:\n"
        "    for i in range(40):\n"
        "        (tmp / f'f{i:02d}.txt').write_text(sys.argv[2])\n"
        "        time.sleep(0.02)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", script, str(out), "old"], env=env, check=True)
    rng = random.Random(2)
    for run in range(6):
        proc = subprocess.Popen([sys.executable, "-c", script, str(out), f"new{run}"], env=env)
        time.sleep(rng.uniform(0.05, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        texts = {p.read_text() for p in out.glob("f*.txt")}
        assert len(list(out.glob("f*.txt"))) == 40 and len(texts) == 1, texts
    subprocess.run([sys.executable, "-c", script, str(out), "last"], env=env, check=True)
    assert {p.read_text() for p in out.glob("f*.txt")} == {"last"}
    assert _leftovers(tmp_path) == []


# --------------------------------------------------------------------------- the cache


def test_a_corrupt_cache_entry_is_named_set_aside_and_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNOVIS_CACHE", str(tmp_path / "cache"))

    def save(value, path):
        files.write_json(path, value)

    assert cached("thing", {"seed": 1}, lambda: {"v": 1}, save, files.read_json, ".json") == {
        "v": 1
    }
    entry = cache_path("thing", {"seed": 1}, ".json")
    entry.write_text('{"v": ')  # truncated on disk
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = cached("thing", {"seed": 1}, lambda: {"v": 2}, save, files.read_json, ".json")
    assert value == {"v": 2} and files.read_json(entry) == {"v": 2}
    messages = [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]
    assert len(messages) == 1 and str(entry) in messages[0]
    aside = [p for p in entry.parent.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_text() == '{"v": '


def test_a_build_killed_while_saving_leaves_no_temporary_file_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNOVIS_CACHE", str(tmp_path / "cache"))
    entry = cache_path("thing", {"seed": 2}, ".npz")
    entry.parent.mkdir(parents=True)
    stale = [
        entry.parent / f".{entry.stem}.npz.k1l2.tmp",
        entry.parent / f".{entry.stem}.csv.x.tmp",
    ]
    for path in stale:
        path.write_bytes(b"half")
    other = entry.parent / ".0123456789abcdef.npz.zz.tmp"  # another entry's: not ours to touch
    other.write_bytes(b"half")

    def save(value, path):
        files.write_json(path, value)

    assert cached("thing", {"seed": 2}, lambda: [2], save, files.read_json, ".npz") == [2]
    assert sorted(p.name for p in entry.parent.iterdir()) == sorted([entry.name, other.name])


def test_a_cache_folder_that_is_a_file_is_named(tmp_path, monkeypatch):
    from synovis_lib.cache import cache_dir

    (tmp_path / "cache").write_text("not a folder")
    monkeypatch.setenv("SYNOVIS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(NotADirectoryError, match=r"cache .*cache \(\$SYNOVIS_CACHE\) is a file"):
        cache_dir()
