# Quick start: `make demo` and `make test`. Everything runs inside .venv, created on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint types unit fuzz bench report screenshot chromium clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	$(BIN)/python -m compileall -q bn
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m compileall -q bn
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/bn query KABOOM kaboom
	$(BIN)/bn draw -o reports/network.svg
	@echo "Diagram written to reports/network.svg"

test: lint types unit

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check bn tests bench
	$(BIN)/ruff format --check bn tests bench

types: $(VENV)/.dev-installed
	$(BIN)/mypy

unit: $(VENV)/.dev-installed chromium
	$(BIN)/python -m pytest

# The property tests with fresh random examples, ROUNDS times over (tests/conftest.py).
ROUNDS ?= 5
fuzz: $(VENV)/.dev-installed
	for i in $$(seq $(ROUNDS)); do \
		HYPOTHESIS_PROFILE=explore $(BIN)/python -m pytest -q -x $$(grep -l "@given" tests/test_*.py) || exit 1; \
	done

# The browser tests drive Debian's chromium (Playwright's own browser download is not used):
# installed here when it is missing and we can (root with apt-get); otherwise they are skipped.
chromium:
	@if ! command -v chromium >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# The README's picture of `bn serve`, taken from the page in chromium.
screenshot: $(VENV)/.dev-installed chromium
	$(BIN)/python bench/screenshot.py reports/serve.png

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/run.py

report: $(VENV)/.installed
	$(BIN)/bn report --date $$(date +%F)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
