# The README's two commands. Everything installs into .venv (override: make VENV=/path ...).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= quick
DATASET ?= pbmc68k-reduced
RUN := results/$(DATASET)/$(PROFILE)

.PHONY: quick test install install-test book clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"

## run the profile on the dataset, then build the book from that run
quick: install
	$(BIN)/replicate run --profile $(PROFILE) --dataset $(DATASET)
	$(BIN)/replicate book --run $(RUN)

book:
	$(BIN)/replicate book --run $(RUN)

## the whole test suite (slow tests included; `-m "not slow"` for the fast ones)
test: install-test
	$(BIN)/python -m pytest -ra

clean:
	rm -rf results/*/smoke book/_build .pytest_cache
