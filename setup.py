"""Package layout only (metadata lives in pyproject.toml).

The top-level ``grammars/`` data directory ships inside the wheel as the
``treediff.grammars`` package, and ``cli/`` as ``treediff_cli``.
"""

import warnings

from setuptools import find_packages, setup

# `pip install -e .` maps cli/ and grammars/ through setuptools' meta path finder, which always emits an
# "Editable installation." notice (setuptools' InformationOnly, "not the most appropriate tool", its
# docs say): nothing in it needs the user's action, so it is filtered here and nothing else is.
warnings.filterwarnings("ignore", message=r"\s*Editable installation", category=UserWarning)

# The embedded models are data directories inside treediff.assets; naming them as (data) packages keeps
# setuptools from warning that an importable directory "would be ignored".
MODELS = ["treediff.assets.default_model", "treediff.assets.parallel_model", "treediff.assets.multi_model"]

setup(
    packages=find_packages(include=["treediff", "treediff.*"]) + MODELS + ["treediff.grammars", "treediff_cli"],
    package_dir={"treediff.grammars": "grammars", "treediff_cli": "cli"},
    package_data={"treediff.grammars": ["*.toml", "*.lark"], "treediff.data": ["sources.toml"], "treediff.model": ["*.toml"], **{name: ["*"] for name in MODELS}},
)
