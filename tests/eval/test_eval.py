"""pass@k, the sandboxed harness (a canonical solution passes, a wrong one fails), infilling tasks, the CLI."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from treediff.errors import InputError
from treediff.eval import (
    build_infill_tasks,
    evaluate_humaneval,
    load_problems,
    pass_at_k,
    run_tests,
    write_eval_report,
)
from treediff_cli.app import app

runner = CliRunner()


@pytest.mark.parametrize("n,c,k", [(10, 0, 1), (10, 3, 1), (10, 3, 5), (20, 7, 10), (200, 13, 100), (5, 5, 5)])
def test_pass_at_k_matches_the_binomial_form(n, c, k) -> None:
    exact = 1 - math.comb(n - c, k) / math.comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)


def test_pass_at_k_rejects_bad_counts() -> None:
    with pytest.raises(InputError):
        pass_at_k(5, 6, 1)
    with pytest.raises(InputError):
        pass_at_k(5, 1, 10)


@pytest.fixture(scope="module")
def problems():
    return load_problems(limit=6)


def test_canonical_solutions_pass_and_wrong_ones_fail(problems) -> None:
    for p in problems:
        good = run_tests(p["prompt"] + p["canonical_solution"], p["test"], p["entry_point"])
        assert good.passed, (p["task_id"], good.reason)
        bad = run_tests(p["prompt"] + "    return None\n", p["test"], p["entry_point"])
        assert not bad.passed and bad.reason


def test_infill_tasks_are_deterministic_and_the_truth_passes(problems) -> None:
    tasks = build_infill_tasks(problems, seed=3)
    assert tasks == build_infill_tasks(problems, seed=3)
    assert tasks != build_infill_tasks(problems, seed=4)
    assert {t.kind for t in tasks} == {"single-line", "multi-line", "random-span"}
    by_id = {p["task_id"]: p for p in problems}
    for t in tasks:
        assert t.code.count("<|hole|>") == 1
        p = by_id[t.problem_id]
        filled = t.code.replace("<|hole|>", t.truth)
        assert filled.rstrip() == (p["prompt"] + p["canonical_solution"]).rstrip()
        assert run_tests(filled, p["test"], p["entry_point"]).passed, t.task_id
        # and the task really hides something: the empty fill fails
        assert not run_tests(t.code.replace("<|hole|>", "pass" if t.kind != "random-span" else ""), p["test"],
                             p["entry_point"]).passed or t.truth.strip() in ("", "pass")


@pytest.mark.slow
def test_humaneval_cli_runs_synthesis_and_reports(tmp_path) -> None:
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["eval", "humaneval", "--limit", "1", "--n", "2", "--k", "1,2", "--model", "parallel",
                              "--block", "0", "--threshold", "0.9", "--report", str(out), "--json", "--no-progress"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout.strip().splitlines()[-1])
    rec = data["problems"][0]
    assert rec["task_id"] == "HumanEval/0" and rec["n"] == 2 and len(rec["samples"]) == 2
    assert 0.0 <= data["summary"]["pass@1"] <= 1.0
    assert "def has_close_elements" in out.read_text()


def test_humaneval_rejects_k_above_n() -> None:
    with pytest.raises(InputError, match="k"):
        evaluate_humaneval(n=1, ks=(10,), limit=1)
    res = runner.invoke(app, ["eval", "humaneval", "--n", "1", "--k", "1,10", "--limit", "1"])
    assert res.exit_code == 2


def test_report_suffix_is_checked(tmp_path, problems) -> None:
    from treediff.eval import EvalReport

    report = EvalReport("humaneval", "default", {}, (), {})
    assert write_eval_report(report, tmp_path / "r.json").exists()
    with pytest.raises(InputError):
        write_eval_report(report, tmp_path / "r.txt")
