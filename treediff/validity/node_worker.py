"""A persistent node process that syntax-checks many sources, exactly as ``node --check``.

Starting node costs ~40 ms per file; this worker pays it once.  It calls the very
functions ``node --check`` calls (``lib/internal/main/check_syntax.js``): the module
format comes from ``defaultResolve``/``defaultGetFormat`` for files that exist (so a
``package.json`` ``"type"`` field counts) and from the extension otherwise; module
sources go through ``ModuleWrap``, everything else through the CommonJS
``wrapSafe`` (which, on node ≥ 20.19, lets ESM-looking ``.js`` pass the way
``node --check`` does).  Those are node internals, reached with
``--expose-internals``; where they are missing the worker falls back to the public
``vm`` API (CommonJS wrapper / ``vm.SourceTextModule``) and says so in its hello
line.  Protocol: one JSON object per line each way.

The worker runs in a :class:`~treediff.sandbox.Sandbox` (no host files, no network, the
compiler's memory limit) and is killed with its whole process group after a timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Sequence

from treediff.sandbox import COMPILE_LIMITS, Limits, Sandbox
from treediff.validity.long_lived import LongLived, WorkerPool

__all__ = ["NODE_WORKER_JS", "NodeWorker", "NodeVerdict", "get_worker"]

NODE_WORKER_JS = r"""
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');
let mode = 'vm';
let I = null;
try {
  const { internalBinding } = require('internal/test/binding');
  I = {
    wrapSafe: require('internal/modules/cjs/loader').wrapSafe,
    ModuleWrap: internalBinding('module_wrap').ModuleWrap,
    decorate: require('internal/util').decorateErrorStack,
    resolve: require('internal/modules/esm/resolve').defaultResolve,
    getFormat: require('internal/modules/esm/get_format').defaultGetFormat,
    toURL: require('internal/url').pathToFileURL,
  };
  mode = 'internal';
} catch (e) { I = null; }

function extFormat(filename) {
  const ext = path.extname(filename);
  if (ext === '.mjs') return 'module';
  if (ext === '.cjs') return 'commonjs';
  return null;  // what node reports for a .js file without a package "type"
}

async function formatOf(filename) {
  if (I && filename && path.isAbsolute(filename) && fs.existsSync(filename)) {
    try {
      const { url } = await I.resolve(I.toURL(filename).toString());
      return await I.getFormat(new URL(url));
    } catch (e) { /* fall through */ }
  }
  return extFormat(filename || 'input.js');
}

function locate(err, filename) {
  let stack = '';
  try { if (I) I.decorate(err); stack = String(err.stack || ''); } catch (e) { stack = String(err && err.stack || ''); }
  const out = { message: (err && err.name ? err.name + ': ' : '') + (err && err.message || String(err)), line: null, col: null };
  const lines = stack.split('\n');
  const m = /:(\d+)$/.exec(lines[0] || '');
  if (m && lines.length > 2) {
    out.line = parseInt(m[1], 10);
    const caret = lines[2].indexOf('^');
    if (caret >= 0) out.col = caret + 1;
  }
  return out;
}

async function check(req) {
  const filename = req.filename || path.join(process.cwd(), 'input.js');
  const format = req.format !== undefined ? req.format : await formatOf(filename);
  try {
    if (I) {
      if (format === 'module') new I.ModuleWrap(filename, undefined, req.source, 0, 0);
      else I.wrapSafe(filename, req.source, undefined, format);
    } else if (format === 'module') {
      if (!vm.SourceTextModule) throw new Error('vm.SourceTextModule unavailable');
      new vm.SourceTextModule(req.source, { identifier: filename });
    } else {
      vm.compileFunction(req.source, ['exports', 'require', 'module', '__filename', '__dirname'], { filename });
    }
    return { id: req.id, ok: true };
  } catch (err) {
    return Object.assign({ id: req.id, ok: false }, locate(err, filename));
  }
}

const rl = require('readline').createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on('line', (line) => {
  chain = chain.then(async () => {
    let req;
    try { req = JSON.parse(line); } catch (e) { process.stdout.write(JSON.stringify({ id: null, fatal: String(e) }) + '\n'); return; }
    process.stdout.write(JSON.stringify(await check(req)) + '\n');
  });
});
process.stdout.write(JSON.stringify({ hello: mode, version: process.version }) + '\n');
"""


@dataclass(frozen=True)
class NodeVerdict:
    """One answer: ``ok``, and for a rejection the 1-based line/column and message."""

    ok: bool
    line: int | None = None
    col: int | None = None
    message: str = ""


class NodeWorker(LongLived):
    """A node child process speaking the line-JSON protocol; thread-safe via a lock.

    Restarted after a crash or timeout; bound to the process that started it, so a
    forked child never shares the parent's pipes.
    """

    def __init__(self, binary: str = "node", limits: Limits = COMPILE_LIMITS, readable: Sequence[str] = ()) -> None:
        super().__init__(limits, readable)
        self.binary = binary
        self.mode: str | None = None
        self._next_id = 0

    def _start(self, timeout: float) -> None:
        argv = [self.binary, "--expose-internals", "--no-warnings", "--experimental-vm-modules", "-e", NODE_WORKER_JS]
        self._box = Sandbox(self.limits, readable=self.readable)
        proc = self._box.popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, encoding="utf-8", errors="surrogateescape", bufsize=1,
        )
        self._proc, self._pid = proc, os.getpid()
        hello = self._readline(timeout)
        if hello is None or "hello" not in hello:
            self.close()
            raise OSError("node worker did not start")
        self.mode = hello["hello"]

    def _readline(self, timeout: float) -> dict | None:
        assert self._proc is not None and self._proc.stdout is not None
        line = self._in_time(self._proc.stdout.readline, timeout)
        return None if line is None else json.loads(line)

    def check(self, source: str, filename: str | None, *, format: str | None = None, timeout: float = 30.0) -> NodeVerdict:
        """Check one source; raises ``OSError``/``TimeoutError`` when the worker fails."""
        with self._lock:
            if self.gone:
                self.close()
                self._start(timeout)
            self._next_id += 1
            req = {"id": self._next_id, "source": source, "filename": filename}
            if format is not None:
                req["format"] = format
            assert self._proc is not None and self._proc.stdin is not None
            try:
                self._proc.stdin.write(json.dumps(req) + "\n")
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                self.close()
                raise OSError(f"node worker died: {exc}") from None
            answer = self._readline(timeout)
            if answer is None or answer.get("id") != self._next_id:
                self.close()  # a hung or confused worker is replaced next time
                raise TimeoutError(f"node worker gave no answer within {timeout:g}s")
        return NodeVerdict(bool(answer["ok"]), answer.get("line"), answer.get("col"), answer.get("message", ""))


_POOL = WorkerPool(NodeWorker)


def get_worker(binary: str, limits: Limits = COMPILE_LIMITS, readable: Sequence[str] = ()) -> NodeWorker:
    """The shared worker of this process for a node binary and memory limit (started lazily)."""
    return _POOL.get((binary, limits.memory_mb, tuple(readable)), binary, limits, readable)

