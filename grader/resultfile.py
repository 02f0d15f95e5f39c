"""A grading's full result saved as JSON beside its reports, so the reports can be written again later.

results.json is Gradescope's summary: it keeps one line per item, not every check. Batch grading
needs the whole GradingResult after the grading process has ended (to merge a person's scores
for the manual items and write the reports again), so it loads this module as a pytest plugin:

    pytest grader/ --submission PATH --report-dir DIR -p grader.resultfile    # also writes DIR/grading.json

and reads the file back with load_result(). The file holds plain data only (no pickle).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from grader.results import AssignmentResult, GradingResult, ItemResult, TestRecord
from grader.rubric import Item, Rubric
from grader.sandbox import Limits

FILE_NAME = "grading.json"
PLUGIN_NAME = "autograder-session"  # grader.plugin registers the grading session under this name


def result_to_dict(result: GradingResult) -> dict:
    return dataclasses.asdict(result, dict_factory=lambda pairs: {k: str(v) if isinstance(v, Path) else v for k, v in pairs})


def result_from_dict(data: dict) -> GradingResult:
    assignments = []
    for a in data["assignments"]:
        r = a["rubric"]
        rubric = Rubric(
            assignment=r["assignment"],
            title=r["title"],
            total=r["total"],
            items=tuple(Item(**i) for i in r["items"]),
            limits=Limits(**r["limits"]),
            path=Path(r["path"]) if r["path"] else None,
        )
        items = [
            ItemResult(
                item=Item(**i["item"]),
                number=i["number"],
                tests=[TestRecord(**t) for t in i["tests"]],
                score=i["score"],
                status=i["status"],
                reason=i["reason"],
            )
            for i in a["items"]
        ]
        assignments.append(AssignmentResult(rubric, items, a["folder"], dict(a["explanations"]), list(a["notes"])))
    return GradingResult(data["submission"], assignments, data["execution_time"], data["partial_run"], list(data["notes"]))


def save_result(result: GradingResult, report_dir: Path) -> Path:
    path = Path(report_dir) / FILE_NAME
    path.write_text(json.dumps(result_to_dict(result), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load_result(report_dir: Path) -> GradingResult:
    return result_from_dict(json.loads((Path(report_dir) / FILE_NAME).read_text(encoding="utf-8")))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session) -> None:
    """After the grading session has written its reports, save the whole result beside them."""
    grading = session.config.pluginmanager.get_plugin(PLUGIN_NAME)
    if grading is not None and grading.result is not None:
        save_result(grading.result, grading.report_dir)
