#!/usr/bin/env bash
# Download (here, with network) the wheels train_default.sh needs on the GPU image (Python 3.12), which
# lacks tree-sitter, its grammars and lark, into .whl/ (git-ignored; carry it with the run).
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> "$(git rev-parse --git-common-dir)/info/exclude"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  tree-sitter==0.26.1 tree-sitter-python==0.25.0 tree-sitter-javascript==0.25.0 tree-sitter-typescript==0.23.2 \
  tree-sitter-java==0.23.5 tree-sitter-c==0.24.2 tree-sitter-cpp==0.23.4 tree-sitter-go==0.25.0 \
  tree-sitter-rust==0.24.2 lark==1.3.1
ls -la .whl
