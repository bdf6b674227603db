"""Every notebook follows the course's anatomy (see CONTRIBUTING.md, "Conventions")."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from tests.notebooks import (
    NOTEBOOKS,
    ROOT,
    convention_problems,
    literal_parameters,
    read,
    solution_problems,
)

IDS = [p.stem for p in NOTEBOOKS]


def test_there_are_notebooks_and_each_is_in_the_toc():
    assert NOTEBOOKS, "no notebooks found"
    toc = (ROOT / "_toc.yml").read_text()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in toc, f"{path.name} is not in _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_follows_the_conventions(path):
    assert convention_problems(read(path), path.stem) == []


def test_the_convention_check_finds_each_breach():
    """A notebook that breaks every rule: each breach is reported (the check can fail)."""
    v4 = nbformat.v4
    setup = (
        'subprocess.run([sys.executable, "-m", "pip", "install", "torch"])\nsys.path.append("x")'
    )
    long_cell = "\n".join(f"x{i} = {i}" for i in range(16))
    params = v4.new_code_cell("PROFILE = 'fast'\nimport os")
    params.metadata["tags"] = ["parameters"]
    executed = v4.new_code_cell("1 + 1", execution_count=1)
    nb = v4.new_notebook(
        cells=[
            v4.new_markdown_cell("# Statistics\n```{exercise} x\n:label: wrong-1\n```"),
            v4.new_code_cell(setup),
            params,
            executed,
            v4.new_code_cell(long_cell),
            v4.new_code_cell("import matplotlib\nmatplotlib.use('Agg')"),
        ]
    )
    found = "\n".join(convention_problems(nb, "04_statistics"))
    for expected in (
        "cell 3 has outputs committed",
        "cell 4: 16 lines of code",
        "parameters cell is not literals only",
        "first cell must be the title '# 4. ...'",
        "missing '## Overview'",
        "missing 'Learning objectives'",
        "no exercise with a solution",
        "exercise labels must be unique and start with 'nb04-'",
        "no Colab-safe setup cell",
        "the package install pulls dependencies",
        "the setup cell (re)installs torch",
        "setup does not print the config",
        "profile not loaded from PROFILE",
        "writes no metrics for the runner",
        "edits sys.path",
        "matplotlib.use hides figures in the book",
    ):
        assert expected in found, f"not reported: {expected}\n{found}"


def test_the_seed_rule_is_checked():
    """One SEED parameter per notebook, passed to get_profile: a notebook that loads the
    profile without it would mix seeds in a batch run (``-p SEED 1``)."""
    v4 = nbformat.v4
    params = v4.new_code_cell('PROFILE = "ci"\nRESULTS_DIR = "results"')
    params.metadata["tags"] = ["parameters"]
    load = v4.new_code_cell("profile = synovis_lib.get_profile(PROFILE)")
    found = convention_problems(v4.new_notebook(cells=[params, load]), "03_clinic")
    assert "SEED missing from the parameters cell" in found
    assert "profile not loaded from PROFILE and SEED" in found


def test_literal_parameters_rejects_logic():
    assert literal_parameters('PROFILE = "ci"\nSEED = 0') == {"PROFILE": "ci", "SEED": 0}
    with pytest.raises(ValueError):
        literal_parameters("import os\nPROFILE = os.environ['X']")
    with pytest.raises(ValueError):
        literal_parameters("PROFILE = 'ci'\nprint(PROFILE)")


def test_a_solution_shows_nothing_until_opened():
    """Solution code sits between solution-start and solution-end, in a dropdown."""
    v4 = nbformat.v4
    exercise = v4.new_markdown_cell("```{exercise} E\n:label: nb01-ex1\n```")
    gated = [
        exercise,
        v4.new_markdown_cell("```{solution-start} nb01-ex1\n:class: dropdown\n```\nWhy."),
        v4.new_code_cell("answer = 42"),
        v4.new_markdown_cell("```{solution-end}\n```"),
    ]
    assert solution_problems(v4.new_notebook(cells=gated)) == []
    ungated = [
        exercise,
        v4.new_markdown_cell("```{solution} nb01-ex1\n:class: dropdown\n\nWhy.\n```"),
        v4.new_code_cell("answer = 42"),
    ]
    assert solution_problems(v4.new_notebook(cells=ungated)) == [
        "cell 1: an ungated solution (use solution-start/solution-end)",
        "cell 2: code after an exercise outside its solution",
    ]
    open_ended = [exercise, v4.new_markdown_cell("```{solution-start} nb01-ex1\n```")]
    assert solution_problems(v4.new_notebook(cells=open_ended)) == [
        "cell 1: a solution that is not a dropdown",
        "a solution-start without its solution-end",
    ]


def test_the_table_of_contents_follows_the_prerequisites():
    """Every notebook a notebook's Prerequisites link to comes before it in _toc.yml, and the
    prerequisites are links (a reader clicks them), not bare names."""
    from tests.browser_check import toc_files

    order = [Path(doc).name for doc in toc_files(ROOT / "_toc.yml")]
    for path in NOTEBOOKS:
        markdown = "\n".join(c.source for c in read(path).cells if c.cell_type == "markdown")
        section = markdown.split("## Prerequisites", 1)[1].split("Time to learn", 1)[0]
        needed = re.findall(r"\]\((\d\d_[\w]+)\.ipynb\)", section)
        named = re.findall(r"[Nn]otebooks? (\d\d?)\b", re.sub(r"\[[^\]]*\]\([^)]*\)", "", section))
        assert not named, f"{path.stem}: prerequisites name notebooks {named} without a link"
        for stem in needed:
            assert order.index(stem) < order.index(path.stem), (
                f"{path.stem} needs {stem}, which comes after it in _toc.yml"
            )
