"""Fixtures for the noise tests: real Python code batched with the leaf alignment."""

from __future__ import annotations

import pytest
import torch

from treediff.noise.testing import batch_from_sources

SOURCES = [
    "def add(a, b):\n    return a + b\n",
    (
        "import os\n\n"
        "class Counter:\n"
        "    def __init__(self, start=0):\n"
        "        self.value = start\n\n"
        "    def bump(self, by=1):\n"
        "        if by < 0:\n"
        "            raise ValueError('negative')\n"
        "        self.value += by\n"
        "        return self.value\n"
    ),
    (
        "def fib(n):\n"
        "    a, b = 0, 1\n"
        "    for _ in range(n):\n"
        "        a, b = b, a + b\n"
        "    return [a, b, {'k': n * 2}]\n\n"
        "x = fib(10) if os.name == 'posix' else None\n"
    ),
]


@pytest.fixture(autouse=True)
def _one_thread():
    """Maskers run many tiny ops (as in a data-loader worker); extra threads only contend."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def sources() -> list[str]:
    return SOURCES


@pytest.fixture(scope="session")
def batch():
    return batch_from_sources(SOURCES, "python")
