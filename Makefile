# The README's commands. Everything installs into .venv (override: make VENV=/path ...).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= quick
DATASET ?= pbmc68k-reduced
# sections run side by side once the VAE is trained (replicate run --jobs)
JOBS ?= 2
RUN := results/$(DATASET)/$(PROFILE)
# setuptools prints a warning block about editable installs of a flat layout; nothing to act on
PIP := PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet
# scVI's PyTorch; the CPU build keeps the install small (e.g. TORCH="torch --index-url https://download.pytorch.org/whl/cpu")
TORCH ?= torch==2.13.0

.PHONY: quick test install install-test browser book reproduce status verify clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip "setuptools>=77"

install: $(BIN)/python
	$(PIP) $(TORCH)
	$(PIP) -e ".[scvi]"

install-test: $(BIN)/python
	$(PIP) $(TORCH)
	$(PIP) -e ".[test,scvi]"

## headless Chromium for the browser test of the built book (Debian's package)
browser:
	-@tools/ensure-chromium

## run the profile on the dataset, then build the book from that run
quick: install
	$(BIN)/replicate run --profile $(PROFILE) --dataset $(DATASET) --jobs $(JOBS)
	$(BIN)/replicate book --run $(RUN)

book:
	$(BIN)/replicate book --run $(RUN)

## the study graph (dvc.yaml): rebuild whatever is not current, in order, timing each step
## (results/rebuild/times.csv; benchmarks only with `replicate rebuild --machine-specific`);
## say what is current; re-compute a sample
reproduce: install-test
	$(BIN)/replicate rebuild

status: install-test
	$(BIN)/replicate status

verify: install-test
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/replicate verify --sample $(or $(SAMPLE),2)

## the whole test suite (slow tests included; `-m "not slow"` for the fast ones)
test: install-test browser
	$(BIN)/python -m pytest -ra

clean:
	rm -rf results/*/smoke book/_build .pytest_cache
