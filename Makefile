# liuhen (留痕) — every target a person runs is the one CI runs (.ci/run calls `make test`).
PY      ?= .venv/bin/python
VENV    ?= .venv
DATA    ?= ./liuhen-data
export PYTHONDONTWRITEBYTECODE = 1

.DEFAULT_GOAL := help
.PHONY: help dev servers demo lint typecheck arch test test-unit test-dates check bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Two stamps: the demo needs liuhen's runtime only; the dev tools (pytest, mypy, ruff,
# schemathesis, selenium ...) come with `make dev` and every target that runs them.
$(VENV)/.runtime: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml $(VENV)/.runtime
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

dev: $(VENV)/.dev ## create .venv with liuhen and its dev tools

servers: ## Debian tools, PostgreSQL running, Ceph installed (each test run starts its own RGW)
	scripts/system-deps.sh
	scripts/ceph-rgw.sh install

demo: $(VENV)/.runtime ## run the demo on the embedded defaults (SQLite + local store in ./liuhen-data)
	$(VENV)/bin/liuhen demo --data-dir $(DATA)

lint: $(VENV)/.dev ## ruff
	$(VENV)/bin/ruff check .

typecheck: $(VENV)/.dev ## mypy --strict
	$(VENV)/bin/mypy

arch: $(VENV)/.dev ## import-linter: the layers of DESIGN.md §2
	$(VENV)/bin/lint-imports

test-unit: $(VENV)/.dev ## pure tests only (no servers)
	$(PY) -m pytest tests/unit tests/conformance -q

# A leap day late in a year, and the first day past 2038's 32-bit seconds: the pure tests must
# not care which day they run (DEVELOPERS.md). libfaketime moves the wall clock only (file times
# and the monotonic clock stay real: FAT images and timeouts keep working).
FAKETIME = NO_FAKE_STAT=1 FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f
test-dates: servers $(VENV)/.dev ## the unit and conformance tests again on other days (faketime)
	$(FAKETIME) "@2028-02-29 23:59:30" $(PY) -m pytest -q -p no:cacheprovider tests/unit tests/conformance
	$(FAKETIME) "@2039-01-01 00:00:05" $(PY) -m pytest -q -p no:cacheprovider tests/unit tests/conformance

test: servers lint typecheck arch test-dates ## everything: lint, types, layers, unit, conformance, integration (PostgreSQL, TSA, Ceph RGW)
	$(PY) -m pytest -q

check: test ## alias of test, as CI runs it

bench: servers $(VENV)/.dev ## benchmarks: figures beside peers measured in the same run
	$(PY) -m bench

clean: ## remove caches and the demo data
	rm -rf $(DATA) .pytest_cache .mypy_cache .ruff_cache
