"""Scores that a person gives for the manual items, merged into a batch's gradebook and reports.

    python -m grader merge-manual OUT scores.csv

The CSV has the gradebook's shape: a `student` column, then one column per manual item named as
in the gradebook (`assignment:item`, e.g. `demo:essay`), and optionally a `<column> comment`
column beside it whose text the student's report shows. An empty cell leaves that item pending.
The easiest way to make one: copy gradebook.csv, keep `student` and the manual columns, fill them in.

Merged scores are kept in OUT/manual_scores.json (later merges override earlier ones per cell), and
re-applied whenever a student is regraded, so a regrade never loses a person's work. The
automatic result in each student's grading.json is never changed; the reports show both.
"""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

from grader.reports import fmt
from grader.results import GradingResult

FILE_NAME = "manual_scores.json"


class ManualScoreError(Exception):
    """The CSV does not fit the batch; the message lists every problem."""


def load_merged(out: Path) -> dict[str, dict[str, dict]]:
    """student id -> {"assignment:item": {"score": float, "comment": str}}."""
    path = Path(out) / FILE_NAME
    return json.loads(path.read_text()) if path.is_file() else {}


def apply(result: GradingResult, scores: dict[str, dict]) -> GradingResult:
    """A copy of `result` in which the manual items a person scored carry that score."""
    if not scores:
        return result
    result = copy.deepcopy(result)
    for assignment, item in result.items():
        given = scores.get(f"{assignment.rubric.assignment}:{item.item.id}")
        if item.item.kind != "manual" or given is None:
            continue
        item.score = float(given["score"])
        item.status = "passed" if item.score >= item.item.points else ("failed" if item.score == 0 else "partial")
        item.reason = f"a person's comment: {given['comment']}" if given.get("comment") else "graded by a person"
    return result


def read_scores(csv_path: Path, manual_items: dict[str, float], students: set[str]) -> dict[str, dict[str, dict]]:
    """Read and check a CSV of manual scores against the batch's manual items (label -> points) and students."""
    problems = []
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
        columns = list(rows[0].keys()) if rows else []
    if "student" not in columns:
        raise ManualScoreError(f"{csv_path}: needs a 'student' column")
    for column in columns:
        label = column.removesuffix(" comment")
        if column != "student" and label not in manual_items:
            problems.append(f"column {column!r} is not a manual item of this batch (they are: {', '.join(manual_items) or 'none'})")
    scores: dict[str, dict[str, dict]] = {}
    for n, row in enumerate(rows, start=2):
        student = (row.get("student") or "").strip()
        if student not in students:
            problems.append(f"line {n}: no graded student named {student!r}")
            continue
        for label, points in manual_items.items():
            cell = (row.get(label) or "").strip()
            if not cell:
                continue
            try:
                score = float(cell)
            except ValueError:
                problems.append(f"line {n}, {label}: {cell!r} is not a number")
                continue
            if not 0 <= score <= points:
                problems.append(f"line {n}, {label}: {cell} is outside 0 to {fmt(points)}")
                continue
            comment = (row.get(f"{label} comment") or "").strip()
            scores.setdefault(student, {})[label] = {"score": score, "comment": comment}
    if problems:
        raise ManualScoreError(f"{csv_path}:\n  - " + "\n  - ".join(problems))
    return scores


def merge(out: Path, csv_path: Path) -> list[str]:
    """Merge a CSV of manual scores into a batch's output and rewrite what they change. Returns the students updated."""
    from grader.batch import Record
    from grader.classreport import write_class_reports
    from grader.reports import write_reports
    from grader.resultfile import load_result

    out = Path(out)
    results = {}
    for folder in sorted((out / "students").glob("*/")):
        record = Record.load(folder)
        if record is not None and (folder / "grading.json").is_file():
            results[record.student] = (folder, load_result(folder))
    manual_items = {
        f"{a.rubric.assignment}:{i.item.id}": i.item.points
        for _, result in results.values()
        for a, i in result.items()
        if i.item.kind == "manual"
    }
    new = read_scores(Path(csv_path), manual_items, set(results))
    merged = load_merged(out)
    for student, cells in new.items():
        merged.setdefault(student, {}).update(cells)
    (out / FILE_NAME).write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n")
    for student in new:
        folder, result = results[student]
        write_reports(apply(result, merged[student]), folder)
    write_class_reports(out)
    return sorted(new)
