# Fresh Debian/Ubuntu machine, as root or with sudo available:
#   make run    set up, then print the bundled sample capture exactly as `sysdig -r` does
#   make test   set up, then run the whole test suite (ruff, mypy --strict, pytest)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := tests/fixtures/falco/cat_write.scap.gz

.PHONY: setup run test lint goldens bench clean

$(BIN)/sysnb: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

setup: $(BIN)/sysnb

run: setup
	$(BIN)/sysnb -r $(SAMPLE)
	@echo
	$(BIN)/sysnb -r $(SAMPLE) -S -q

lint: setup
	$(BIN)/ruff check sysnb tests tools
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

# Needs sysdig 0.29.3 (apt-get install --no-install-recommends sysdig) and ../shared/captures/public
goldens:
	tools/make_goldens.sh

bench: setup
	$(BIN)/python benchmarks/bench_read.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
