"""Package layout only (metadata lives in pyproject.toml).

The top-level ``grammars/`` data directory ships inside the wheel as the
``treediff.grammars`` package, and ``cli/`` as ``treediff_cli``.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["treediff", "treediff.*"]) + ["treediff.grammars", "treediff_cli"],
    package_dir={"treediff.grammars": "grammars", "treediff_cli": "cli"},
    package_data={"treediff.grammars": ["*.toml", "*.lark"], "treediff.assets": ["default_model/*", "parallel_model/*"]},
)
