# The README's commands. Everything installs into .venv (override: make VENV=/path ...).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= quick
DATASET ?= pbmc68k-reduced
# sections run side by side, each once the trainings and grid cells it reads are made (replicate run --jobs)
JOBS ?= 2
# make test spreads the test files over up to this many processes, one per core (pytest-xdist)
TEST_WORKERS ?= 4
RUN := results/$(DATASET)/$(PROFILE)
# setuptools prints a warning block about editable installs of a flat layout; nothing to act on.
# pip's lines pass through tools/heartbeat, which says it is still working after 10 s of silence.
PIP = PYTHONWARNINGS=ignore tools/heartbeat $(1) -- $(BIN)/python -m pip install --progress-bar off
# scVI's PyTorch, the CPU build, from PyTorch's CPU wheel index: the default index's Linux wheel pulls the
# NVIDIA libraries (about 3 GB). A wheel pip already finds (find-links, a mirror) is taken as well; TORCH_INDEX=
# (empty) uses only pip's own configuration, e.g. for a CUDA build. Offline (a local wheel), the unreachable index
# costs seconds, not pip's default five retries for each of torch's dependencies (about 90 s).
TORCH ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: quick test install install-test browser book reproduce status verify clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(call PIP,pip and setuptools) --upgrade pip "setuptools>=77"

## what `make quick` runs: the package alone (no PyTorch, scVI or DVC: the quick profile does not use them)
install: $(BIN)/python
	$(call PIP,the package with TensorFlow scanpy and Jupyter Book into $(VENV)) -e .

## the tests and the study graph: scVI with PyTorch's CPU build, JAX, DVC, the test tools
install-test: $(BIN)/python
	$(call PIP,the CPU build of PyTorch) $(TORCH) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX) --retries 2)
	$(call PIP,the package with scVI JAX DVC and the test tools into $(VENV)) -e ".[test,scvi,reproduce]"

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

## the whole test suite (slow tests included; `-m "not slow"` for the fast ones), its 30 slowest tests listed
test: install-test browser
	$(BIN)/python -m pytest -n logical --maxprocesses $(TEST_WORKERS) --dist loadfile -ra --durations=30

clean:
	rm -rf results/*/smoke book/_build .pytest_cache
