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
# Checkers for TypeScript (tsc, project-local npm package) and Go (Debian's golang-go): docs/validity.md.
TYPESCRIPT ?= 7.0.2
TOOLS ?= .tools

.PHONY: setup sandbox-tools checker-tools run test test-all bench clean

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

setup: $(STAMP) sandbox-tools checker-tools

# bubblewrap isolates compiler checks and test runs (docs/eval.md). Installed when missing and we are
# root with apt (CI); never fatal: without it the sandbox falls back to rlimits and says so once.
sandbox-tools:
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q bubblewrap >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bubblewrap >/dev/null 2>&1; }; }; } || \
	  echo "note: bubblewrap (bwrap) is not installed; sandboxed runs fall back to rlimits only" >&2

# The compilers TypeScript and Go are judged by (docs/validity.md): typescript@$(TYPESCRIPT) from npm into
# $(TOOLS)/node (gitignored; treediff finds its tsc there), go from Debian when root with apt. Quiet;
# never fatal: without them those languages are checked by tree-sitter only (compiler_missing), with one note.
checker-tools:
	@grep -qs '"version": "$(TYPESCRIPT)"' $(TOOLS)/node/node_modules/typescript/package.json || \
	  { command -v npm >/dev/null 2>&1 && npm install -s --prefix $(TOOLS)/node --no-save --no-package-lock --fetch-retries=1 \
	      --no-audit --no-fund --loglevel=error typescript@$(TYPESCRIPT) >/dev/null 2>&1; } || \
	  echo "note: typescript@$(TYPESCRIPT) could not be installed with npm; TypeScript is checked by tree-sitter only (unless tsc is on PATH)" >&2
	@command -v go >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q golang-go >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q golang-go >/dev/null 2>&1; }; }; } || \
	  echo "note: go is not installed (apt-get install golang-go); Go is checked by tree-sitter only" >&2

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
	rm -rf $(VENV) $(TOOLS) build dist *.egg-info runs .pytest_cache .hypothesis
