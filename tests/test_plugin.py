"""The plugin: rubric/test agreement, assignment selection, determinism, partial runs, reports."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from grader.run import GradingRunFailed, grade

from .conftest import DEMO, ROOT

SCHEMA = json.loads((Path(__file__).parent / "gradescope_results.schema.json").read_text())
GOOD = DEMO / "submissions" / "good"


def grade_demo(tmp_path, submission=GOOD, tests_root=DEMO / "grader", specs_root=DEMO / "specs", **kwargs):
    return grade(submission, tmp_path / "report", tests_root=tests_root, specs_root=specs_root, **kwargs)


@pytest.fixture
def demo_copy(tmp_path):
    """A copy of the demo assignment's grader and specs that a test may break."""
    copy = tmp_path / "demo_copy"
    shutil.copytree(DEMO / "grader", copy / "grader")
    shutil.copytree(DEMO / "specs", copy / "specs")
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    "breakage, message",
    [
        (("grader", '@pytest.mark.rubric("word_counts")\n', ""), "has no @pytest.mark.rubric"),
        (("grader", '@pytest.mark.rubric("word_counts")', '@pytest.mark.rubric("words")'), "names rubric item 'words'"),
        (("grader", '@pytest.mark.rubric("add")', '@pytest.mark.rubric("essay")'), "a manual item, which no test may score"),
        (("specs", "total = 5", "total = 6"), "add up to 5, not the assignment's total of 6"),
    ],
)
def test_a_disagreement_between_rubric_and_tests_stops_the_run(tmp_path, demo_copy, breakage, message):
    where, old, new = breakage
    target = demo_copy / "grader" / "demo" / "test_demo_assignment.py" if where == "grader" else demo_copy / "specs" / "demo" / "rubric.toml"
    edit(target, old, new)
    with pytest.raises(GradingRunFailed, match=message):
        grade_demo(tmp_path, tests_root=demo_copy / "grader", specs_root=demo_copy / "specs")


def test_an_auto_item_without_tests_stops_the_run(tmp_path, demo_copy):
    rubric = demo_copy / "specs" / "demo" / "rubric.toml"
    rubric.write_text(rubric.read_text().replace("total = 5", "total = 6") + '\n[[items]]\nid = "untested"\ntitle = "x"\npoints = 1\n')
    with pytest.raises(GradingRunFailed, match="auto item 'untested' has no test"):
        grade_demo(tmp_path, tests_root=demo_copy / "grader", specs_root=demo_copy / "specs")


def test_grading_twice_gives_identical_results_apart_from_time(tmp_path):
    first = grade_demo(tmp_path / "a", submission=DEMO / "submissions" / "sysexit").results
    second = grade_demo(tmp_path / "b", submission=DEMO / "submissions" / "sysexit").results
    first.pop("execution_time")
    second.pop("execution_time")
    assert first == second


def test_a_selection_of_tests_is_marked_as_a_partial_grade(tmp_path):
    run = grade_demo(tmp_path, extra_args=["-k", "add"])
    assert run.results["extra_data"]["partial_run"] is True
    assert "not a full grade" in run.results["output"]


def test_one_assignments_folder_can_be_graded_directly(tmp_path):
    run = grade_demo(tmp_path, submission=GOOD / "demo", assignments=["demo"])
    assert run.results["score"] == 4


def test_the_reports_land_in_the_report_dir(tmp_path):
    run = grade_demo(tmp_path)
    names = sorted(p.name for p in (tmp_path / "report").iterdir())
    assert names == ["junit.xml", "report.html", "report.md", "results.json"]
    jsonschema.validate(run.results, SCHEMA)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--submission", "no/such/folder"], "no such folder"),
        (["--assignment", "nonexistent"], "unknown assignment nonexistent"),
        (["--submission", "fixtures"], "holds no assignment folder"),
    ],
)
def test_usage_errors_are_clear(args, message):
    proc = subprocess.run([sys.executable, "-m", "pytest", "grader/", "-p", "no:cacheprovider", *args], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr


def test_a_path_to_one_assignments_tests_grades_that_assignment_alone(tmp_path):
    report = tmp_path / "report"
    command = [sys.executable, "-m", "pytest", "grader/ml_qa", "--submission", "solutions", "--report-dir", str(report), "-p", "no:cacheprovider"]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    results = json.loads((report / "results.json").read_text())
    assert list(results["extra_data"]["assignments"]) == ["ml_qa"], proc.stdout + proc.stderr
    assert results["extra_data"]["partial_run"] is False
    assert results["score"] == results["extra_data"]["assignments"]["ml_qa"]["auto_max"]
