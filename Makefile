# Two commands on a fresh machine with only python3: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck check bench generate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,aiortc,janus]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rtcstate demo

test: $(STAMP)
	RTCSTATE_REQUIRE_FULL_COVERAGE=1 $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check rtcstate tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

# The generated files: the catalog's exception classes (in rtcstate/errors.py) and the diagrams.
generate: $(STAMP)
	$(BIN)/python -m rtcstate.generate
	$(BIN)/rtcstate diagrams

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_machines.py
	$(BIN)/python benchmarks/bench_tours.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/bench_link.py
	$(BIN)/python benchmarks/bench_capacity.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist *.egg-info
