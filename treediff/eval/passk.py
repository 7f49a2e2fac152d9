"""The unbiased pass@k estimator (Chen et al., 2021): 1 - C(n-c, k) / C(n, k).

Computed as a product, 1 - prod_{i=n-c+1}^{n} (1 - k/i), which never forms the huge binomials.

>>> pass_at_k(10, 0, 1), pass_at_k(10, 10, 1), round(pass_at_k(10, 1, 1), 12), pass_at_k(10, 1, 10)
(0.0, 1.0, 0.1, 1.0)
>>> round(pass_at_k(200, 13, 10), 6) == round(1 - __import__("math").comb(187, 10) / __import__("math").comb(200, 10), 6)
True
"""

from __future__ import annotations

import math

from treediff.errors import InputError

__all__ = ["pass_at_k"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of ``k`` samples (out of ``n``, ``c`` correct) passes."""
    if not (isinstance(n, int) and isinstance(c, int) and isinstance(k, int)) or not 0 <= c <= n or k < 1:
        raise InputError(f"pass@k needs ints 0 <= c <= n and k >= 1, got n={n!r}, c={c!r}, k={k!r}")
    if k > n:
        raise InputError(f"pass@{k} needs at least {k} samples per problem, got n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))
