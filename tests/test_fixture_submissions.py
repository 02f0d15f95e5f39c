"""Every fixture submission gets exactly the score its expected.toml names, with the reasons it names.

Grading runs the real thing: `pytest grader/ --submission ...` in a fresh process (grader.run.grade).
"""

import tomllib
from pathlib import Path

import pytest

from grader.run import grade

from .conftest import DEMO, ROOT

CASES = [
    pytest.param(path.parent, id=path.parent.name)
    for path in sorted((ROOT / "fixtures" / "submissions").glob("*/expected.toml"))
] + [
    pytest.param(path.parent, id=f"demo-{path.parent.name}")
    for path in sorted((DEMO / "submissions").glob("*/expected.toml"))
]


@pytest.mark.parametrize("submission", CASES)
def test_fixture_submission_gets_its_expected_score(submission: Path, tmp_path):
    expected = tomllib.loads((submission / "expected.toml").read_text())
    demo = submission.is_relative_to(DEMO)
    run = grade(
        submission,
        tmp_path / "report",
        assignments=list(expected),
        tests_root=DEMO / "grader" if demo else None,
        specs_root=DEMO / "specs" if demo else None,
        timeout=600,
    )
    tests = {t["name"].rsplit(":", 1)[1].rstrip("]"): t for t in run.results["tests"]}
    for assignment, want in expected.items():
        got = run.results["extra_data"]["assignments"][assignment]["score"]
        assert got == pytest.approx(want["score"], abs=1e-4), run.output
        for item, points in want.get("items", {}).items():
            assert tests[item]["score"] == pytest.approx(points, abs=1e-4), f"{item}: {tests[item]['output']}"
        for item, text in want.get("messages", {}).items():
            assert text in tests[item]["output"], f"{item}: {text!r} not in {tests[item]['output']!r}"
