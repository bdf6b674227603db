"""Every notebook follows the course's anatomy (see DESIGN.md, "Conventions")."""

from __future__ import annotations

import re

import pytest

from tests.notebooks import NOTEBOOKS, ROOT, literal_parameters, parameters_cells, read

IDS = [p.stem for p in NOTEBOOKS]


def test_there_are_notebooks_and_each_is_in_the_toc():
    assert NOTEBOOKS, "no notebooks found"
    toc = (ROOT / "_toc.yml").read_text()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in toc, f"{path.name} is not in _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_outputs_are_stripped(path):
    nb = read(path)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs committed"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_one_literal_parameters_cell_with_profile(path):
    cells = parameters_cells(read(path))
    assert len(cells) == 1, f"{path.name}: {len(cells)} cells tagged parameters (want 1)"
    params = literal_parameters(cells[0].source)
    assert params.get("PROFILE") in {"ci", "quick", "paper"}, f"{path.name}: PROFILE missing"
    assert "RESULTS_DIR" in params, f"{path.name}: RESULTS_DIR missing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_anatomy(path):
    nb = read(path)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    number = path.stem[:2]
    assert nb.cells[0].cell_type == "markdown" and re.match(
        rf"# {int(number)}\. \S", nb.cells[0].source
    ), f"{path.name}: first cell must be the title '# {int(number)}. ...'"
    for heading in ("## Overview", "## Prerequisites", "## Summary", "## Exercises"):
        assert heading in markdown, f"{path.name}: missing {heading!r}"
    assert "Time to learn" in markdown, f"{path.name}: missing 'Time to learn'"
    assert "Learning objectives" in markdown, f"{path.name}: missing 'Learning objectives'"
    assert "```{exercise}" in markdown and "```{solution}" in markdown, f"{path.name}: no exercise"
    assert 'find_spec("synovis_lib")' in code, f"{path.name}: no Colab-safe setup cell"
    installs = [line for line in code.splitlines() if '"pip", "install"' in line]
    assert installs and '"--no-deps"' in installs[0], f"{path.name}: the package install pulls deps"
    assert not any(re.search(r"\btorch", line) for line in installs), (
        f"{path.name}: the setup cell (re)installs torch"
    )
    assert "print_config()" in code, f"{path.name}: setup does not print the config"
    assert "get_profile(PROFILE" in code, f"{path.name}: profile not loaded from PROFILE"
    assert "write_metrics(" in code, f"{path.name}: writes no metrics for the runner"
    assert "sys.path" not in code, f"{path.name}: edits sys.path"
    assert "matplotlib.use(" not in code, f"{path.name}: matplotlib.use hides figures in the book"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_code_cells_are_short(path):
    """A code cell longer than ~15 lines of logic is a library function waiting to be written."""
    for i, cell in enumerate(read(path).cells):
        if cell.cell_type != "code":
            continue
        logic = [
            line
            for line in cell.source.splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
        assert len(logic) <= 15, f"{path.name} cell {i}: {len(logic)} lines of code"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_exercise_labels_are_unique_and_prefixed(path):
    markdown = "\n".join(c.source for c in read(path).cells if c.cell_type == "markdown")
    labels = re.findall(r":label:\s*(\S+)", markdown)
    prefix = f"nb{path.stem[:2]}-"
    assert labels and all(label.startswith(prefix) for label in labels), (
        f"{path.name}: exercise labels must start with {prefix!r}: {labels}"
    )
    assert len(labels) == len(set(labels))


def test_literal_parameters_rejects_logic():
    from tests.notebooks import literal_parameters

    assert literal_parameters('PROFILE = "ci"\nSEED = 0') == {"PROFILE": "ci", "SEED": 0}
    with pytest.raises(ValueError):
        literal_parameters("import os\nPROFILE = os.environ['X']")
    with pytest.raises(ValueError):
        literal_parameters("PROFILE = 'ci'\nprint(PROFILE)")
