# Two commands on a fresh machine:  `make demo`  (set-up + the main job)  and  `make test`  (set-up + the tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: setup demo test lint bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,spark,team]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/clipzoo demo image

# A worker per core (at most 4), each test file on one worker (module fixtures are built once).
test: setup
	$(PY) -m pytest -n auto --maxprocesses 4 --dist loadfile

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: setup
	$(PY) scripts/bench/core.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
