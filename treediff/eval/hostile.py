"""The hostile-program suite: programs that try to break out, each written so that it *passes*
only if its attack worked.  The sandbox must make every one fail, with a reason, in bounded time.

Used by the tests (``tests/eval/test_hostile.py``) and ``bench/sandbox.py`` (time and peak memory).
"""

from __future__ import annotations

__all__ = ["SECRET_ENV", "hostile_programs"]

#: A fake secret the parent sets in its own environment; no program may see it.
SECRET_ENV = "TREEDIFF_FAKE_SECRET"


def hostile_programs(*, parent_pid: int, outside: str, port: int, secret: str) -> dict[str, str]:
    """Name → program.  ``outside`` is a host path to write, ``port`` a host TCP port listening on
    127.0.0.1, ``parent_pid`` the evaluating process, ``secret`` the value of :data:`SECRET_ENV`."""
    return {
        "fork bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
        "memory bomb": "blocks = []\nwhile True:\n    blocks.append(bytearray(64 << 20))\n",
        "infinite loop": "while True:\n    pass\n",
        "sleep forever": "import time\ntime.sleep(10**6)\n",
        "write outside": f"open({outside!r}, 'w').write('escaped')\nassert open({outside!r}).read() == 'escaped'\n",
        "read /etc/passwd": "data = open('/etc/passwd').read()\nassert 'root:' in data\nprint(data)\n",
        "read secret env": f"import os\nassert os.environ.get({SECRET_ENV!r}) == {secret!r}\n",
        "read parent env": f"assert {secret!r}.encode() in open('/proc/{parent_pid}/environ', 'rb').read()\n",
        "open a socket": f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=3)\ns.sendall(b'x')\n",
        "kill the parent": f"import os, signal\nos.kill({parent_pid}, signal.SIGKILL)\nos.kill(os.getppid(), signal.SIGKILL)\n"
                           "assert False, 'parent still alive?'\n",
        "escape the group": "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(10**6)\n"
                            "raise SystemExit(1)\n",
        "fill the disk": "with open('big', 'wb') as f:\n    while True:\n        f.write(b'x' * (1 << 20))\n",
    }
