"""The trainer tests' fixtures, for the distillation tests."""

from tests.train.conftest import one_thread  # noqa: F401  (fixture)
