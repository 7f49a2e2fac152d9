# treediff: `make run` sets up and runs the main job; `make test` sets up and runs the tests.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.treediff-installed
JOBS ?= 2

.PHONY: setup sandbox-tools run test bench clean

$(STAMP): pyproject.toml setup.py
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP) sandbox-tools

# bubblewrap isolates compiler checks and test runs (docs/eval.md). Installed when missing and we are
# root with apt (CI); never fatal: without it the sandbox falls back to rlimits and says so once.
sandbox-tools:
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q bubblewrap >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bubblewrap >/dev/null 2>&1; }; }; } || \
	  echo "note: bubblewrap (bwrap) is not installed; sandboxed runs fall back to rlimits only" >&2

run: setup
	$(BIN)/treediff synth examples/specs/humaneval_head.jsonl --threads 1 --report runs/synth.html

test: setup
	$(BIN)/python -m pytest -n $(JOBS) --doctest-modules treediff tests

bench: setup
	$(BIN)/python bench/syntax_speed.py
	$(BIN)/python bench/oracle_agreement.py

clean:
	rm -rf $(VENV) build dist *.egg-info runs .pytest_cache .hypothesis
