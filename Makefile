# Two commands for a reader on a fresh machine (Python 3.11):
#   make book   execute the notebooks (quick profile) and build the book into _build/html
#   make test   run the test suite (library units, notebooks in the ci profile, book build)
# Both create/refresh the local virtual environment .venv first and are idempotent.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv book test lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

# tools/build_book.py executes the notebooks with synovis' runner (two at once) into
# _build/executed and renders them with Jupyter Book into _build/html.
# The runner's manifest knows only the notebooks' code: when the library or
# $SYNOVIS_PROFILE changes, the outputs it made are stale, so the whole build is
# thrown away and made again.
LIBHASH = $(shell (echo "profile=$(SYNOVIS_PROFILE)"; cat pyproject.toml $(sort $(wildcard synovis_lib/*.py synovis_lib/data/*.json synovis_lib/data/scenes/*.json))) | sha256sum | cut -c1-16)

book: venv
	bash tools/fetch_web_assets.sh
	@if [ -d _build ] && [ "$$(cat _build/.synovis_lib_hash 2>/dev/null)" != "$(LIBHASH)" ]; then \
		echo "synovis_lib changed since the last build: rebuilding the book from scratch"; rm -rf _build; fi
	$(BIN)/python tools/build_book.py
	echo $(LIBHASH) > _build/.synovis_lib_hash

test: venv
	bash tools/fetch_web_assets.sh
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check synovis_lib tests benchmarks

clean:
	rm -rf _build runs results notebooks/results
