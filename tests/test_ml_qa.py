"""ml_qa: the reference answers agree with the computations behind them."""

import tomllib

import pytest

from grader.run import grade
from solutions.ml_qa import ab_test

from .conftest import ROOT


def test_reference_z_statistics_come_from_the_computation():
    answers = tomllib.loads((ROOT / "solutions" / "ml_qa" / "answers.toml").read_text())
    by_name = {c.template: c for c in ab_test.comparisons()}
    assert answers["q2"]["z_b"] == pytest.approx(by_name["B"].z, abs=5e-4)
    assert answers["q2"]["z_e"] == pytest.approx(by_name["E"].z, abs=5e-4)
    significant = {name for name, c in by_name.items() if c.p <= ab_test.ALPHA}
    assert significant == {"B", "E"} and by_name["E"].z > 0 > by_name["B"].z  # option b


def test_bonferroni_drops_b_but_holm_keeps_it():
    pvalues = {c.template: c.p for c in ab_test.comparisons()}
    assert pvalues["B"] > ab_test.ALPHA / 4 > pvalues["E"]
    assert ab_test.holm(pvalues) == {"E": True, "B": True, "D": False, "C": False}


def test_the_answer_key_accepts_the_reference_and_rejects_the_template(tmp_path):
    template = tmp_path / "student" / "ml_qa"
    template.mkdir(parents=True)
    (template / "answers.toml").write_text((ROOT / "specs" / "ml_qa" / "answers.toml").read_text())
    run = grade(tmp_path / "student", tmp_path / "report")
    assert run.results["score"] == 0
    assert all("empty" in t["output"] or "not a finite number" in t["output"] for t in run.results["tests"])


def test_regrading_gives_identical_results_and_explanations_reach_the_report(tmp_path):
    submission = ROOT / "fixtures" / "submissions" / "ml_qa_some_wrong"
    first = grade(submission, tmp_path / "a").results
    second = grade(submission, tmp_path / "b").results
    assert first["execution_time"] >= 0
    first.pop("execution_time")
    second.pop("execution_time")
    assert first == second
    report = (tmp_path / "a" / "report.md").read_text()
    assert "Random sampling is unbiased so it must be best." in report
