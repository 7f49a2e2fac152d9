"""A persistent Go type checker that rejects broken files fast; ``go build`` still decides every file it accepts.

``go build`` costs 0.1-0.3 s a file here (the go command's start, a compile, a link for ``package main``), ~0.5 s
under load, and remasking rounds and the typed fallback ask for dozens of checks per hole, most of them of
broken drafts.  This worker is one Go process (:data:`GO_WORKER_GO`, built once per Go version with the
toolchain being judged by, cached in :func:`worker_dir`) that parses each file with ``go/parser`` and
type-checks it with ``go/types`` against the toolchain's own compiled standard library (``importer.ForCompiler``
"gc"), the file a package of its own as the command builds it.  Its answer is used only when it is sure:

- type errors found: the file is rejected with them (all of them, by position, as ``cmd/compile -e`` reports
  them: ``go build -gcflags=-e``, the language's ``argv``), in ``cmd/compile``'s words where ``go/types`` of older toolchains words them differently
  (:data:`_WORDING`: ``undefined: x``, ``imported and not used: "p"``);
- anything else is left to the ``command`` driver (``go build``): no error found (the command links
  ``package main`` and applies the build rules), a syntax error (``cmd/compile``'s own parser words and places
  those), cgo, a ``//go:`` directive or ``+build`` line, an import the checker cannot load, a panic.

So a file the worker passes on gets exactly the command's verdict, and a rejection is one the compiler makes
too: ``go/types`` and ``cmd/compile``'s ``types2`` are the same checker (``bench/check_worker.py --language go``
compares them file by file).  Protocol: one JSON object per line each way.  The worker runs in a
:class:`~treediff.sandbox.Sandbox` (no host files beyond the toolchain, no network, the compiler's memory limit)
and is killed with its process group after a timeout, then started afresh on the next request.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

from treediff.sandbox import COMPILE_LIMITS, Limits, Sandbox
from treediff.validity.long_lived import LongLived, WorkerPool

__all__ = ["GO_WORKER_GO", "GoWorker", "build_go_worker", "get_go_worker", "worker_dir"]

GO_WORKER_GO = r"""// treediff's Go check worker: go/parser and go/types over one file per request, the file a package of its own.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"runtime"
	"sort"
	"strings"
)

type request struct {
	Name   string `json:"name"`
	Source string `json:"source"`
}

type answer struct {
	Errors []string `json:"errors"`
	Unsure string   `json:"unsure,omitempty"`
}

type located struct {
	pos token.Position
	msg string
}

func main() {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", nil)
	fmt.Fprintf(out, "hello %s\n", runtime.Version())
	out.Flush()
	for {
		line, err := in.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			return
		}
		var req request
		var ans answer
		if json.Unmarshal(line, &req) != nil {
			ans.Unsure = "bad request"
		} else {
			ans = check(fset, imp, req)
		}
		enc.Encode(ans)
		out.Flush()
	}
}

func check(fset *token.FileSet, imp types.Importer, req request) (ans answer) {
	defer func() {
		if r := recover(); r != nil {
			ans = answer{Unsure: fmt.Sprint("go/types panicked: ", r)}
		}
	}()
	f, err := parser.ParseFile(fset, req.Name, req.Source, parser.AllErrors|parser.ParseComments)
	if err != nil {
		return answer{Unsure: "syntax error"} // cmd/compile's own parser words these
	}
	for _, s := range f.Imports {
		if s.Path.Value == `"C"` {
			return answer{Unsure: "cgo"}
		}
		p := strings.Trim(s.Path.Value, `"`)
		if p == "internal" || strings.HasPrefix(p, "internal/") || strings.Contains(p, "/internal/") ||
			strings.HasSuffix(p, "/internal") || strings.Contains(p, "vendor/") || !strings.Contains(p, "/") && strings.Contains(p, ".") {
			return answer{Unsure: "import rules"} // the go command's own rules for these paths
		}
	}
	for _, g := range f.Comments {
		for _, c := range g.List {
			if strings.HasPrefix(c.Text, "//go:") || strings.HasPrefix(c.Text, "// +build") {
				return answer{Unsure: "directive"}
			}
		}
	}
	var found []located
	unsure := ""
	conf := types.Config{
		Importer: imp,
		Sizes:    types.SizesFor("gc", runtime.GOARCH),
		Error: func(e error) {
			te, ok := e.(types.Error)
			if !ok {
				unsure = "untyped error"
				return
			}
			if strings.Contains(te.Msg, "could not import") {
				unsure = "import"
			}
			found = append(found, located{fset.Position(te.Pos), te.Msg})
		},
	}
	conf.Check(f.Name.Name, fset, []*ast.File{f}, nil)
	if unsure != "" {
		return answer{Unsure: unsure}
	}
	if len(found) == 0 {
		return answer{Unsure: "no error"} // the command decides (links a main package, build rules)
	}
	// cmd/compile with -e (`go build -gcflags=-e`, the [compiler] argv) reports every error it finds, sorted by
	// position: all of them, so that a file's own errors can be told from an edit's (treediff.sample.record)
	sort.SliceStable(found, func(i, j int) bool {
		a, b := found[i].pos, found[j].pos
		return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
	})
	for i, e := range found { // and drops an error whose line and words an earlier one has
		if i > 0 && e.pos.Line == found[i-1].pos.Line && e.msg == found[i-1].msg {
			continue
		}
		ans.Errors = append(ans.Errors, fmt.Sprintf("./%s:%d:%d: %s", req.Name, e.pos.Line, e.pos.Column, e.msg))
	}
	return ans
}
"""

#: ``go/types`` wordings of Go <= 1.19 → ``cmd/compile``'s (the ``[typed_fillers] names`` patterns read these)
_WORDING = (
    (re.compile(r"^undeclared name: (\w+)$"), r"undefined: \1"),
    (re.compile(r'^(".*?") imported but not used$'), r"imported and not used: \1"),
    (re.compile(r'^(".*?") imported but not used as (\w+)$'), r"imported and not used: \1 as \2"),
)
_BUILD_TIMEOUT = 300.0


def worker_dir() -> Path:
    """Where built workers are kept: ``$TREEDIFF_CACHE/go-worker``, else ``$XDG_CACHE_HOME`` (or ``~/.cache``)
    ``/treediff/go-worker``."""
    base = os.environ.get("TREEDIFF_CACHE")
    if base:
        return Path(base) / "go-worker"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "treediff" / "go-worker"


def build_go_worker(go: str, *, timeout: float = _BUILD_TIMEOUT) -> Path:
    """The worker binary for the ``go`` toolchain at that path: built with it on first need (our own source, not the
    checked code), then cached per toolchain version and source.  Raises ``OSError`` when it cannot be built."""
    try:
        version = subprocess.run([go, "version"], capture_output=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise OSError(f"go version failed: {exc}") from None
    key = hashlib.sha256(version + os.path.realpath(go).encode() + GO_WORKER_GO.encode()).hexdigest()[:16]
    target = worker_dir() / key / "gocheck"
    if target.is_file() and os.access(target, os.X_OK):
        return target
    with tempfile.TemporaryDirectory(prefix="treediff-go-worker-") as tmp:
        Path(tmp, "main.go").write_text(GO_WORKER_GO, encoding="utf-8")
        env = {**os.environ, "GOFLAGS": "", "GOPROXY": "off", "GOTOOLCHAIN": "local", "GO111MODULE": "off",
               "GOTELEMETRY": "off", "CGO_ENABLED": "0"}
        try:
            proc = subprocess.run([go, "build", "-o", "gocheck", "main.go"], cwd=tmp, env=env, capture_output=True,
                                  timeout=timeout)
        except (OSError, subprocess.SubprocessError) as exc:
            raise OSError(f"building the go worker failed: {exc}") from None
        if proc.returncode != 0:
            raise OSError("building the go worker failed: " + proc.stderr.decode("utf-8", "replace")[-300:])
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            staged = target.parent / f"gocheck.{os.getpid()}"
            shutil.copy2(Path(tmp, "gocheck"), staged)
            os.replace(staged, target)
        except OSError:  # no writable cache: this process keeps a copy of its own
            target = Path(tempfile.mkdtemp(prefix="treediff-go-worker-")) / "gocheck"
            shutil.copy2(Path(tmp, "gocheck"), target)
    return target


def _reworded(line: str) -> str:
    head, sep, message = line.partition(": ")
    for pattern, words in _WORDING:
        if pattern.match(message):
            return head + sep + pattern.sub(words, message)
    return line


class GoWorker(LongLived):
    """One worker process per toolchain; thread-safe via a lock, restarted after a crash or a timeout, bound to the
    process that started it (a forked child never shares the parent's pipes)."""

    def __init__(self, go: str, limits: Limits = COMPILE_LIMITS, readable: Sequence[str] = (),
                 env: tuple[tuple[str, str], ...] = ()) -> None:
        # the toolchain's own tree is read by the importer: readable wherever it is installed
        super().__init__(limits, (*readable, str(Path(os.path.realpath(go)).parent.parent)))
        self.go = go
        self.env = dict(env)
        self.version: str | None = None

    def _start(self, timeout: float) -> None:
        binary = build_go_worker(self.go)
        self._box = Sandbox(self.limits, readable=self.readable)
        program = self._box.write("gocheck", binary.read_bytes())
        os.chmod(Path(self._box.root) / "gocheck", 0o755)
        # the command's environment (`[compiler] env`: its build cache in the sandbox, no network, no toolchain
        # download); a toolchain without compiled packages in GOROOT (Go >= 1.20) has the importer run
        # `go list -export`, which fills that cache once per worker
        env = {k: v.format(outdir=self._box.mkdir("out")) for k, v in self.env.items()}
        env["GOROOT"] = _goroot(self.go)
        self._proc = self._box.popen([program], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        self._pid = os.getpid()
        hello = self._in_time(self._proc.stdout.readline, timeout)
        if hello is None or not hello.startswith(b"hello "):
            self.close()
            raise OSError("go worker did not start")
        self.version = hello[6:].decode("utf-8", "replace").strip()

    def check(self, name: str, source: bytes, *, timeout: float = 60.0) -> list[str] | None:
        """``go build``'s error lines for ``source`` as a file ``name`` when the worker is sure it is rejected;
        ``None`` when the command must decide.  Raises ``OSError`` when the worker fails and ``TimeoutError`` when
        it gave no answer in time (it is killed then)."""
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError:  # the compiler's own parser says where the encoding breaks
            return None
        if "\x00" in text:
            return None
        with self._lock:
            if self.gone:
                self.close()
                self._start(timeout)
            assert self._proc is not None and self._proc.stdin is not None and self._proc.stdout is not None
            request = json.dumps({"name": name, "source": text}, ensure_ascii=True) + "\n"
            try:
                self._proc.stdin.write(request.encode("ascii"))
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                self.close()
                raise OSError(f"go worker died: {exc}") from None
            line = self._in_time(self._proc.stdout.readline, timeout)
            if line is None:
                self.close()
                raise TimeoutError(f"go worker gave no answer within {timeout:g}s")
        answer = json.loads(line)
        if answer.get("unsure") or not answer.get("errors"):
            return None
        return [_reworded(e) for e in answer["errors"]]


_GOROOTS: dict[str, str] = {}


def _goroot(go: str) -> str:
    if go not in _GOROOTS:
        try:
            out = subprocess.run([go, "env", "GOROOT"], capture_output=True, timeout=30, check=True).stdout
            _GOROOTS[go] = out.decode().strip()
        except (OSError, subprocess.SubprocessError):
            _GOROOTS[go] = ""
    return _GOROOTS[go]


_POOL = WorkerPool(GoWorker)


def get_go_worker(go: str, limits: Limits = COMPILE_LIMITS, readable: Sequence[str] = (),
                  env: dict[str, str] | None = None) -> GoWorker:
    """The shared worker of this process for a ``go`` binary, memory limit, readable paths and environment
    (``{outdir}`` in a value: the worker's scratch directory), started lazily."""
    items = tuple(sorted((env or {}).items()))
    return _POOL.get((go, limits.memory_mb, tuple(readable), items), go, limits, readable, items)
