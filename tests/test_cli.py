"""The command line: parsing only, light to start, one-line errors naming the argument."""

from __future__ import annotations

import subprocess
import sys

import pytest

from synovis_lib import cli


def test_help_does_not_import_the_domain_modules():
    """``synovis --help`` must not load PyTorch or the modules that do the work."""
    code = (
        "import sys; from synovis_lib import cli; cli.build_parser().format_help(); "
        "heavy = sorted(m for m in sys.modules if m in ('torch', 'torchvision', 'pandas', "
        "'matplotlib', 'synovis_lib.train', 'synovis_lib.pipeline', 'synovis_lib.synth')); "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["generate", "--out", "x", "--size", "0"], "argument --size: 0 is below the minimum 8"),
        (["generate", "--out", "x", "--seed", "-1"], "argument --seed: -1 is below the minimum 0"),
        (["generate", "--out", "x", "--seed", "one"], "argument --seed: 'one' is not a whole"),
        (["generate", "--out", "x", "--counts", "1", "2"], "argument --counts: expected 4"),
        (
            ["simulate-clinic", "--out", "x", "--size", "16"],
            "argument --size: 16 is below the minimum 32",
        ),
        (["generate", "--out", "x", "--size", "100000"], "argument --size: 100000 is above"),
        (["train", "--out", "x", "--trials", "0"], "argument --trials: 0 is below the minimum 1"),
        (["train", "--out", "x", "--trials", "-1"], "argument --trials"),
        (["train", "--out", "x", "--profile", "fast"], "argument --profile: invalid choice"),
        (["train", "--out", "x", "--data", "no/such/folder"], "argument --data: no/such/folder"),
        (["train", "--out", "x", "--clinic-csv", "missing.csv"], "argument --clinic-csv"),
        (["cv", "--out", "x", "--epochs", "0"], "argument --epochs"),
        (["cv", "--out", "x", "--method", "svm"], "argument --method: invalid choice"),
        (["second-model", "--out", "x", "--dev-fraction", "0.9"], "argument --dev-fraction"),
        (["second-model", "--out", "x", "--new", "0"], "argument --new"),
        (["run-notebooks", "--jobs", "0"], "argument --jobs"),
        (["run-notebooks", "--timeout", "-5"], "argument --timeout: -5 is not a positive"),
        (["run-notebooks", "--timeout", "nan"], "argument --timeout"),
        (["generate", "--out", "x", "--counts", "0", "0", "0", "0"], "--counts: all four"),
        (["train"], "the following arguments are required: --out"),
        (["fly"], "argument COMMAND: invalid choice: 'fly'"),
    ],
)
def test_bad_arguments_are_one_line_naming_the_argument(argv, named, capsys):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert named in lines[0] and "Traceback" not in captured.err


def test_an_out_that_is_a_file_is_refused_before_any_work(tmp_path, capsys):
    target = tmp_path / "results.txt"
    target.write_text("mine")
    for command in ("generate", "simulate-clinic", "train", "cv", "second-model"):
        assert cli.main([command, "--out", str(target)]) == 2
        err = capsys.readouterr().err
        assert f"argument --out: {target} is a file, not a folder" in err
    assert target.read_text() == "mine"


def test_library_errors_become_one_line_with_the_command_name(tmp_path, capsys):
    (tmp_path / "data" / "grade_9").mkdir(parents=True)
    (tmp_path / "data" / "grade_9" / "x.png").write_bytes(b"")
    argv = [
        "train",
        "--profile",
        "ci",
        "--data",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path / "o"),
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("synovis train: error: ")
    assert "grade_9: class folders must be named grade_0 .. grade_3" in err[0]


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for command in (
        "config",
        "generate",
        "simulate-clinic",
        "train",
        "cv",
        "second-model",
        "run-notebooks",
    ):
        assert command in text


def test_clinic_csv_without_clinic_is_refused(tmp_path, capsys):
    csv = tmp_path / "labels.csv"
    csv.write_text("image,patient_id,rater_1,rater_2\n")
    assert cli.main(["train", "--out", str(tmp_path / "run"), "--clinic-csv", str(csv)]) == 2
    assert "--clinic-csv needs --clinic" in capsys.readouterr().err
