"""Schedules' ranges and derivatives; the warmup ramp."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from treediff.errors import ConfigError
from treediff.noise import SCHEDULES, Warmup, build_schedule, is_warmup, sample_t, u_max

T = torch.linspace(0, 1, 101, dtype=torch.float64)


@pytest.mark.parametrize("name,kwargs", [("linear", {}), ("cosine", {}), ("clipped", {"block_size": 4}),
                                         ("clipped", {"block_size": 2, "base": "cosine"})])
def test_schedule_range_and_monotone(name, kwargs):
    schedule = build_schedule(name, **kwargs)
    u = schedule(T)
    assert ((u >= 0) & (u <= 1)).all()
    assert (u[1:] >= u[:-1] - 1e-12).all()
    assert float(u[-1]) == pytest.approx(1.0)
    if name == "clipped":
        assert (u >= 1 / kwargs["block_size"] - 1e-12).all()
    else:
        assert float(u[0]) == 0.0


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_rate_is_the_derivative(name):
    schedule = build_schedule(name)
    t = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)
    h = 1e-6
    numeric = (schedule(t + h) - schedule(t - h)) / (2 * h)
    assert torch.allclose(schedule.rate(t), numeric, atol=1e-5)


def test_schedule_registry_errors():
    assert {"linear", "cosine", "clipped"} <= set(SCHEDULES.names())
    with pytest.raises(ConfigError, match="linear"):
        build_schedule("lineer")
    with pytest.raises(ConfigError, match="block_size"):
        build_schedule("clipped", block_size=0)
    with pytest.raises(ConfigError, match="schedule"):
        build_schedule("clipped")


def test_warmup_ramp():
    assert u_max(0, 100, u_init=1e-3) == pytest.approx(1e-3)
    assert u_max(50, 100, u_init=0.0) == pytest.approx(0.5)
    assert u_max(100, 100) == 1.0 and u_max(10**6, 100) == 1.0
    assert u_max(5, 0) == 1.0
    ramp = [u_max(s, 10) for s in range(12)]
    assert all(b > a for a, b in zip(ramp[:10], ramp[1:11]))
    assert is_warmup(0, 10) and is_warmup(9, 10) and not is_warmup(10, 10) and not is_warmup(0, 0)


@given(st.integers(0, 300), st.integers(0, 200), st.floats(0.0, 1.0))
def test_sample_t_stays_under_u_max(step, warmup_steps, u_init):
    g = torch.Generator().manual_seed(step)
    t = sample_t(64, step, g, warmup_steps, u_init)
    assert t.shape == (64,) and t.dtype == torch.float32
    assert ((t >= 0) & (t <= u_max(step, warmup_steps, u_init) + 1e-6)).all()


def test_sample_t_is_seeded_and_spread():
    w = Warmup(warmup_steps=100, u_init=1e-3)
    a = w.sample_t(4096, 50, torch.Generator().manual_seed(0))
    b = w.sample_t(4096, 50, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    # U(0, u_max): mean u_max/2, sd u_max/sqrt(12·n).
    top = w.u_max(50)
    assert abs(float(a.mean()) - top / 2) < 5 * top / (12 * 4096) ** 0.5
    assert w.is_warmup(50) and not w.is_warmup(100)


def test_warmup_bad_config():
    with pytest.raises(ConfigError, match="warmup_steps"):
        Warmup(warmup_steps=-1)
    with pytest.raises(ConfigError, match="u_init"):
        Warmup(u_init=2.0)
