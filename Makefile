# consentmon: `make demo` runs the built-in demo end to end; `make test` runs the whole suite.
# Both set up everything first: a Python >= 3.12 venv, the agent's npm packages, the agent bundle.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# mitmproxy 12 needs Python >= 3.12: take it from PATH, else from pyenv's versions.
PYTHON312 ?= $(shell for p in python3.13 python3.12; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { command -v $$p; exit; }; done; \
	ls -d $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -V | tail -n 1)
VENV_STAMP := $(VENV)/.installed
NPM_STAMP := hooks/node_modules/.installed
PYTEST_ARGS ?=

.PHONY: all setup agent demo test fuzz soak clean

all: demo

$(VENV_STAMP): pyproject.toml
	@test -n "$(PYTHON312)" || { echo "error: Python >= 3.12 not found (mitmproxy 12 needs it); install it or set PYTHON312=/path/to/python3.12" >&2; exit 1; }
	@echo "creating $(VENV) with $(PYTHON312)"
	$(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# One resolver run for everything: separately, pydantic's and mitmproxy's pins can clash.
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

$(NPM_STAMP): hooks/package.json hooks/package-lock.json
	cd hooks && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(VENV_STAMP) $(NPM_STAMP)

agent: setup
	$(PY) -m monitor.agent.build

demo: agent
	$(PY) -m monitor demo --out reports/demo

test: agent
	# The layering contract (pyproject [tool.importlinter]): fails on an arrow pointing up or into the test rig.
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest $(PYTEST_ARGS)

# The fault suite's fuzz tests with 10 000 cases each (`make test` runs them with a few hundred).
FUZZ_CASES ?= 10000
fuzz: agent
	CONSENTMON_FUZZ=$(FUZZ_CASES) $(PY) -m pytest tests/faults -m fuzz --timeout=3600 $(PYTEST_ARGS)

# The demo in a loop for MINUTES (loopback only), then the hook flood at a million calls; figures to BENCHMARKS.md.
MINUTES ?= 10
soak: agent
	CONSENTMON_SOAK_MINUTES=$(MINUTES) CONSENTMON_FLOOD_CALLS=1000000 $(PY) -m pytest -s tests/faults/test_soak.py tests/faults/test_flood.py \
		--timeout=$$(( $(MINUTES) * 60 + 900 )) $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) hooks/node_modules monitor/agent/_bundle reports build .pytest_cache
