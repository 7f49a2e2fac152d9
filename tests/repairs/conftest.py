"""The sampler tests' tiny models, for the repair tests."""

from tests.sample.conftest import tokenizer, untrained_lm  # noqa: F401  (fixtures)
