# The two commands a newcomer needs: `make report` and `make test`.
# Both create the virtual environment on first use (python3 >= 3.11 and make are enough).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DATA   := data/snapshots/LATEST
# Options for `make lab`, e.g. make lab ARGS="--port 9999 --no-browser --ip 0.0.0.0".
# As root (a container) JupyterLab refuses to start without --allow-root; it is added then.
ARGS   ?=
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: help report test test-fast lab demo-data demo-agencies status plan lint format strip bench clean

help:
	@echo "make report     run the whole plan on the data (demo data when there is none) and publish reports/"
	@echo "make test       run every test (package, notebooks, reports in headless Chromium)"
	@echo "make lab        open JupyterLab on the notebooks (options: make lab ARGS=\"--port 9999\"; --allow-root is added as root)"
	@echo "make demo-data  create the demo data snapshot"
	@echo "make demo-agencies N=20  create N synthetic agencies under agencies/ (run: python -m evaluation run --all-agencies)"
	@echo "make status     list recent runs"
	@echo "make lint       ruff check and format check (code and notebooks)"
	@echo "make bench      run the benchmark scripts (figures in the README)"

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("python >= 3.11 is needed, this is " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	$(PY) -m ipykernel install --prefix $(VENV) --name python3 --display-name "Python 3 (evaluation)" >/dev/null
	touch $(STAMP)

# Demo data takes the same path as real data: exports in the agency's formats (German CSV,
# XLSX, Cologne open data) in data/raw/demo, read by the ingest into a snapshot.
$(DATA): | $(STAMP)
	$(MAKE) --no-print-directory demo-data

demo-data: $(STAMP)
	$(PY) -m evaluation.demo_exports data/raw/demo
	$(PY) -m evaluation ingest data/raw/demo
	$(PY) -m evaluation.texts demo

# N synthetic agencies of different sizes, each with its own key, exports and snapshot.
N ?= 20
demo-agencies: $(STAMP)
	$(PY) -m evaluation demo --agencies $(N)

report: $(STAMP) $(DATA)
	$(PY) -m evaluation run

# test processes for `make test` (pytest-xdist; a test module stays in one process, so its
# fixtures are built once); TEST_WORKERS=0 runs everything in this process
TEST_WORKERS ?= 2

test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not browser" tests

lab: $(STAMP) $(DATA)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(ARGS)

status: $(STAMP)
	$(PY) -m evaluation status

plan: $(STAMP)
	$(PY) -m evaluation plan

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

strip: $(STAMP)
	$(VENV)/bin/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

bench: $(STAMP) $(DATA)
	$(PY) benchmarks/bench_report.py

clean:
	rm -rf reports/ .pytest_cache/ .ruff_cache/
