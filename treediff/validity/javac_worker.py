"""A persistent JVM that runs javac in-process, file after file: the same compiler, without a JVM start per check.

``javac`` on the command line costs ~0.5 s a file here, nearly all of it the JVM starting and javac's classes
loading; the compile itself of a 100-line file takes 10-60 ms once they are warm.  This worker starts one JVM
(``java`` of the JDK the ``javac`` binary belongs to, running :data:`JAVAC_WORKER_JAVA` as a single-file
program) and calls ``ToolProvider.getSystemJavaCompiler().run(...)`` per request: the entry point of the
``javac`` command itself, with the same arguments, so it prints the same diagnostics in the same format.  Each
request gets a fresh directory holding only its source file (and its class output), the class path set to it,
as the command runs in a directory holding only that file: nothing of an earlier request is visible to a later
one.  Annotation processing stays off (``-proc:none`` in the spec's argv), so no code of the checked file runs.

Protocol: the request is one line, the arguments separated by tabs; the answer is a line ``<exit status>
<length>`` and that many bytes of javac's output.  The worker runs in a :class:`~treediff.sandbox.Sandbox` (no
host files, no network, the compiler's memory limit) and is killed with its process group after a timeout,
then started afresh on the next request.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Sequence

from treediff.sandbox import COMPILE_LIMITS, Limits, Sandbox
from treediff.validity.long_lived import LongLived, WorkerPool

__all__ = ["JAVAC_WORKER_JAVA", "JavacWorker", "get_javac_worker", "java_beside"]

JAVAC_WORKER_JAVA = r"""
import java.io.*;
import java.nio.charset.StandardCharsets;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

public class JavacWorker {
    public static void main(String[] argv) throws Exception {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        OutputStream out = new BufferedOutputStream(new FileOutputStream(FileDescriptor.out));
        out.write(("hello " + System.getProperty("java.version") + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        String line;
        while ((line = in.readLine()) != null) {
            ByteArrayOutputStream text = new ByteArrayOutputStream();
            int status;
            try {
                status = javac == null ? 4 : javac.run(null, text, text, line.split("\t"));
            } catch (Throwable t) {  // javac's own failure: no verdict, like the command's exit status 4
                text.write(("An exception has occurred in the compiler: " + t + "\n").getBytes(StandardCharsets.UTF_8));
                status = 4;
            }
            byte[] b = text.toByteArray();
            out.write((status + " " + b.length + "\n").getBytes(StandardCharsets.UTF_8));
            out.write(b);
            out.flush();
        }
    }
}
"""

#: The JVM's flags: a small heap collector and the quick JIT tier (a compile is short; C2 would not pay off).
_JVM_FLAGS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-Xss4m")
_CLASS_PATH_FLAGS = ("-cp", "-classpath", "--class-path")


def java_beside(javac: str) -> str | None:
    """The ``java`` launcher of the JDK a ``javac`` binary belongs to (``None`` when it has none)."""
    for binary in (Path(os.path.abspath(javac)), Path(os.path.realpath(javac))):
        java = binary.parent / "java"
        if java.is_file() and os.access(java, os.X_OK):
            return str(java)
    return None


class JavacWorker(LongLived):
    """One JVM child process running javac per request; thread-safe via a lock, restarted after a crash or a
    timeout, bound to the process that started it (a forked child never shares the parent's pipes)."""

    def __init__(self, java: str, limits: Limits = COMPILE_LIMITS, readable: Sequence[str] = ()) -> None:
        super().__init__(limits, readable)
        self.java = java
        self.version: str | None = None
        self._count = 0

    def _start(self, timeout: float) -> None:
        self._box = Sandbox(self.limits, readable=self.readable)
        program = self._box.write("JavacWorker.java", JAVAC_WORKER_JAVA.encode("utf-8"))
        self._proc = self._box.popen([self.java, *_JVM_FLAGS, program], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._pid = os.getpid()
        hello = self._read(timeout, body=False)
        if hello is None or not hello.startswith(b"hello "):
            self.close()
            raise OSError("javac worker did not start")
        self.version = hello[6:].decode("utf-8", "replace").strip()

    def _read(self, timeout: float, *, body: bool = True) -> bytes | tuple[int, bytes] | None:
        """The next line (``body=False``) or answer, or ``None`` when none came within ``timeout``."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None

        def read() -> bytes | tuple[int, bytes]:
            head = proc.stdout.readline()
            if not body or not head:
                return head
            status, length = (int(x) for x in head.split())
            return status, proc.stdout.read(length)

        return self._in_time(read, timeout)

    def compile(self, name: str, source: bytes, args: Sequence[str], *,
                timeout: float = 60.0) -> tuple[int, bytes, str]:
        """Compile ``source`` as a file ``name`` with javac's ``args`` (``{file}``, ``{dir}``, ``{outdir}`` filled in):
        ``(exit status, javac's output, the file's path as javac saw it)``.  Raises ``OSError`` when the worker
        fails and ``TimeoutError`` when it gave no answer in time (it is killed then)."""
        with self._lock:
            if self.gone:
                self.close()
                self._start(timeout)
            assert self._box is not None and self._proc is not None and self._proc.stdin is not None
            self._count += 1
            folder = f"r{self._count}"
            try:
                subs = {"dir": self._box.mkdir(f"{folder}/src"), "outdir": self._box.mkdir(f"{folder}/out")}
                subs["file"] = self._box.write(f"{folder}/src/{name}", source)
                argv = [a.format(**subs) for a in args if not a.startswith("-J")]  # the command's JVM flags
                if not any(a in _CLASS_PATH_FLAGS for a in argv):  # the command's class path is its directory
                    argv = ["-classpath", subs["dir"], *argv]
                if any("\t" in a or "\n" in a for a in argv):
                    raise OSError("a javac argument holds a tab or a line break")
                try:
                    self._proc.stdin.write(("\t".join(argv) + "\n").encode("utf-8", "surrogateescape"))
                    self._proc.stdin.flush()
                except (BrokenPipeError, OSError) as exc:
                    self.close()
                    raise OSError(f"javac worker died: {exc}") from None
                answer = self._read(timeout)
                if answer is None:
                    self.close()
                    raise TimeoutError(f"javac worker gave no answer within {timeout:g}s")
            finally:
                if self._box is not None:
                    shutil.rmtree(Path(self._box.root) / folder, ignore_errors=True)
        status, output = answer
        return status, output, subs["file"]


_POOL = WorkerPool(JavacWorker)


def get_javac_worker(java: str, limits: Limits = COMPILE_LIMITS, readable: Sequence[str] = ()) -> JavacWorker:
    """The shared worker of this process for a ``java`` launcher and memory limit (started lazily)."""
    return _POOL.get((java, limits.memory_mb, tuple(readable)), java, limits, readable)
