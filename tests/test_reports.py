"""Report files: Gradescope's schema, visibility rules, and untrusted text made harmless."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from grader.reports import markdown, results_json, terminal_table, write_reports
from grader.results import GradingResult, TestRecord, score_assignment
from grader.rubric import Item, Rubric

SCHEMA = json.loads((Path(__file__).parent / "gradescope_results.schema.json").read_text())
NASTY = "\x1b[2J\x1b[31m<script>alert('x')</script> ``` | </pre>\x00"


def make_result() -> GradingResult:
    rubric = Rubric(
        "hw",
        "Homework",
        6.0,
        (
            Item("a", "Part A", 2),
            Item("b", "Part B", 2, visibility="hidden"),
            Item("c", "Part C", 1, all_or_nothing=True),
            Item("essay", "Essay", 1, kind="manual", reference="Reference <b>answer</b>"),
        ),
    )
    records = [
        TestRecord("t::a1", "test_a1", "a", "passed"),
        TestRecord("t::a2", "test_a2", "a", "failed", "wrong value " + NASTY),
        TestRecord("t::a3", "test_a3", "a", "skipped", "needs a GPU"),
        TestRecord("t::b1", "test_b1", "b", "failed", "secret detail of a hidden test"),
        TestRecord("t::b2", "test_b2", "b", "passed"),
        TestRecord("t::c1", "test_c1", "c", "passed"),
        TestRecord("t::c2", "test_c2", "c", "failed", "off by one"),
    ]
    assignment = score_assignment(rubric, 1, records, "student/hw")
    assignment.explanations["essay"] = "My essay " + NASTY
    return GradingResult("student", [assignment], execution_time=1.5)


def test_scores_follow_the_rubric():
    result = make_result()
    scores = {r.item.id: r.score for _, r in result.items()}
    # a: 1 of 2 counted (skips do not count) -> 1; b: 1 of 2 -> 1; c: all or nothing -> 0; manual -> 0
    assert scores == {"a": 1.0, "b": 1.0, "c": 0.0, "essay": 0.0}
    assert result.score == 2.0 and result.auto_max == 5 and result.manual_pending == 1


def test_results_json_follows_gradescopes_schema():
    data = results_json(make_result())
    jsonschema.validate(data, SCHEMA)
    assert data["score"] == 2.0
    assert [t["number"] for t in data["tests"]] == ["1.1", "1.2", "1.3", "1.4"]
    manual = data["tests"][3]
    assert manual["score"] == 0 and manual["max_score"] == 1 and "A person grades this item" in manual["output"]
    assert "status" not in manual


def test_hidden_items_say_only_how_many_checks_failed():
    result = make_result()
    for text in (json.dumps(results_json(result)), markdown(result)):
        assert "secret detail" not in text
    assert results_json(result)["tests"][1]["output"] == "1 of 2 checks passed."


def test_untrusted_text_is_cleaned_and_escaped(tmp_path):
    paths = {p.name: p for p in write_reports(make_result(), tmp_path)}
    assert set(paths) == {"results.json", "report.md", "report.html", "junit.xml"}
    for path in paths.values():
        text = path.read_text()
        assert "\x1b" not in text and "\x00" not in text
    page = paths["report.html"].read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page and "Reference &lt;b&gt;answer&lt;/b&gt;" in page
    md = paths["report.md"].read_text()
    assert "````text" in md  # a fence longer than the ``` inside the student's text
    suites = ET.parse(paths["junit.xml"]).getroot()
    suite = suites.find("testsuite")
    assert suite.get("tests") == "8" and suite.get("failures") == "3" and suite.get("skipped") == "2"


def test_terminal_table_lists_items_reasons_and_total():
    lines = terminal_table(make_result())
    assert any(line.startswith("hw:a") and "wrong value" in line for line in lines)
    assert any(line.startswith("hw:b") and "1 of 2 hidden checks failed" in line for line in lines)
    assert lines[-1] == "total: 2 / 5 automatic points; a person grades 1 point more"


@pytest.mark.parametrize("points, expected", [(2.0, "2"), (1.3333, "1.33"), (0.5, "0.5")])
def test_points_are_written_as_people_write_them(points, expected):
    from grader.reports import fmt

    assert fmt(points) == expected
