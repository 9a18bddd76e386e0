# Two entry points for a fresh machine with Python >= 3.11 and make:
#   make demo   installs into .venv and runs the offline demo tour
#   make test   installs into .venv and runs ruff, mypy and pytest
# Other targets: install, console (interactive demo), lint, typecheck, pytest, bench, clean.
# PYTEST_ARGS="tests/bot -x" narrows `make pytest`; PYTHON=/path/to/python3.12 picks the
# interpreter (default: the first of python3, python3.13, python3.12, python3.11 that is >= 3.11).

DETECTED_PYTHON := $(shell for p in python3 python3.13 python3.12 python3.11; do \
	if command -v $$p >/dev/null 2>&1 && \
	   $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then \
	  echo $$p; break; fi; done)
PYTHON ?= $(DETECTED_PYTHON)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install demo console test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 not found; run: make PYTHON=/path/to/python3.11 ..." >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (found %s)" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The offline demo: every simulator, the real Slack app and the scripted tour (exits non-zero
# if a step fails).
demo: $(STAMP)
	$(BIN)/chegou-hub demo --script bot/sandbox/tour

console: $(STAMP)
	$(BIN)/chegou-hub demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest exits 5 when it collected no tests: for a test run that means something is broken
# (wrong path, a conftest that skips everything), so it fails like any other failure.
pytest: $(STAMP)
	@$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests (exit 5): failing" >&2; exit 1; fi; \
	exit $$rc

test: lint typecheck pytest

bench: $(STAMP)
	for f in benchmarks/*.py; do \
	  case $$f in */__init__.py) continue;; esac; \
	  echo "== $$f"; $(BIN)/python $$f || exit 1; \
	done

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
