"""The sampler's check remembers verdicts of programs it already checked (remasking rounds and the typed fallback
produce the same program again), but never a verdict the compiler did not give."""

from __future__ import annotations

from dataclasses import replace

import treediff.validity
from treediff.sample.record import check


def _counting(monkeypatch, unknown: bool = False) -> list[str]:
    calls: list[str] = []
    inner = treediff.validity.check  # what the sampler's check calls

    def counted(code, language, **kwargs):
        calls.append(code)
        verdict = inner(code, language, **kwargs)
        return replace(verdict, ok=False, compiler_note="timed out", verdict="unknown") if unknown else verdict

    monkeypatch.setattr(treediff.validity, "check", counted)
    return calls


def test_the_same_program_is_checked_once(monkeypatch):
    calls = _counting(monkeypatch)
    good, bad = "def f(x):\n    return x + 1\n", "def f(x):\n    return x +\n"
    first = check(good, "python")
    assert check(good, "python") == first and first.ok
    assert not check(bad, "python").ok and not check(bad, "python").ok
    assert calls == [good, bad]


def test_a_made_up_name_is_judged_against_each_given_code(monkeypatch):
    calls = _counting(monkeypatch)
    src = "#include \"nowhere_memo.h\"\nint f(void) { return g(); }\n"
    made_up = src.replace("nowhere_memo.h", "elsewhere_memo.h")
    assert check(made_up, "c", given=made_up).ok == check(made_up, "c", given=made_up).ok
    if check(made_up, "c").unresolved:  # gcc installed: the header name is made up relative to `src`
        assert not check(made_up, "c", given=src).ok
    assert calls == [made_up]


def test_no_verdict_is_not_remembered(monkeypatch):
    calls = _counting(monkeypatch, unknown=True)
    code = "x = 1  # memo unknown\n"
    assert check(code, "python").verdict == "unknown" and check(code, "python").verdict == "unknown"
    assert calls == [code, code]
