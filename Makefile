# treediff: `make run` sets up and runs the main job; `make test` sets up and runs the fast tests
# (`make test-all`, what CI runs, adds the slow ones).
PY ?= python3
VENV ?= .venv
VENV_FLAGS ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.treediff-installed
JOBS ?= 2
TORCH ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: setup run test test-all bench clean

# torch first, the CPU build from PyTorch's own CPU index: the default index's torch is the CUDA build
# (~17 nvidia-* packages and triton). An unreachable index fails within seconds and the default index is
# used instead (one note). A torch that is already importable (say your CUDA build, with
# VENV_FLAGS=--system-site-packages) is kept.
$(STAMP): pyproject.toml setup.py
	$(PY) -m venv $(VENV_FLAGS) $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@if $(BIN)/python -c "import torch" 2>/dev/null; then \
	  echo "keeping the installed torch $$($(BIN)/python -c 'import torch; print(torch.__version__)')"; \
	elif echo "installing $(TORCH), the CPU build, from $(TORCH_INDEX)" && \
	     ! $(BIN)/python -m pip install -q --timeout 5 --retries 0 --index-url $(TORCH_INDEX) $(TORCH) 2>/dev/null; then \
	  echo "note: $(TORCH_INDEX) not reachable; installing $(TORCH) from the default index"; \
	  $(BIN)/python -m pip install -q $(TORCH); \
	fi
	$(BIN)/python -m pip install -q -e '.[test,data]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/treediff synth examples/specs/humaneval_head.jsonl --report runs/synth.html

test: setup
	$(BIN)/python -m pytest -n $(JOBS) --doctest-modules -m "not slow" treediff tests

test-all: setup
	$(BIN)/python -m pytest -n $(JOBS) --doctest-modules treediff tests

bench: setup
	$(BIN)/python bench/syntax_speed.py
	$(BIN)/python bench/oracle_agreement.py

clean:
	rm -rf $(VENV) build dist *.egg-info runs .pytest_cache .hypothesis
