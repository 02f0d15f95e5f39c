"""The main self-test: the reference solutions score full marks on every assignment."""

import json
from pathlib import Path

import jsonschema
import pytest

from grader.run import grade

from .conftest import ROOT

SCHEMA = json.loads((Path(__file__).parent / "gradescope_results.schema.json").read_text())
ASSIGNMENTS = sorted(p.parent.name for p in (ROOT / "specs").glob("*/rubric.toml"))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_reference_scores_full_marks(assignment, tmp_path):
    run = grade(ROOT / "solutions", tmp_path, assignments=[assignment], timeout=1800)
    summary = run.results["extra_data"]["assignments"][assignment]
    failing = [t for t in run.results["tests"] if t.get("status") == "failed"]
    assert summary["score"] == summary["auto_max"], "\n\n".join(t["output"] for t in failing)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junit.xml", "report.html", "report.md", "results.json"]
    jsonschema.validate(run.results, SCHEMA)
