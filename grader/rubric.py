"""Rubrics: specs/<id>/rubric.toml lists what an assignment is graded on and how many points each is worth.

    [assignment]
    id = "ml_qa"
    title = "Q/A 1-5"
    total = 10                      # must equal the sum of the items' points

    [sandbox]                       # optional: limits for this assignment's worker (see Limits)
    call_timeout_s = 60

    [[items]]
    id = "q1"                       # what tests name in @pytest.mark.rubric("q1")
    title = "Q1: duplicated feature"
    points = 2
    kind = "auto"                   # auto: scored by tests; manual: awaits a person
    visibility = "visible"          # visible, hidden, after_due_date, after_published (Gradescope's)
    all_or_nothing = false          # default: points x fraction of the item's tests that passed
    explanation = "q1.explanation"  # optional answers.toml key shown to a person in the report
    reference = "..."               # manual items: the reference answer for whoever grades it
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox import Limits

KINDS = ("auto", "manual")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
ITEM_ID = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*")


class RubricError(Exception):
    """A rubric that cannot be graded with; the message lists every problem."""


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    points: float
    kind: str = "auto"
    visibility: str = "visible"
    all_or_nothing: bool = False
    explanation: str = ""
    reference: str = ""


@dataclass(frozen=True)
class Rubric:
    assignment: str
    title: str
    total: float
    items: tuple[Item, ...]
    limits: Limits = field(default_factory=Limits)
    path: Path | None = None

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)

    @property
    def auto_points(self) -> float:
        return sum(i.points for i in self.items if i.kind == "auto")

    @property
    def manual_points(self) -> float:
        return sum(i.points for i in self.items if i.kind == "manual")


def load_rubric(path: Path) -> Rubric:
    """Read and check a rubric.toml; every problem found is reported at once."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RubricError(f"{path}: {exc}") from None
    problems = []
    head = data.get("assignment", {})
    assignment = head.get("id", path.parent.name)
    if assignment != path.parent.name:
        problems.append(f"assignment.id is {assignment!r} but the folder is {path.parent.name!r}")
    total = head.get("total")
    if not isinstance(total, (int, float)):
        problems.append("assignment.total (the assignment's points) is missing")
    items = []
    seen = set()
    for n, raw in enumerate(data.get("items", []), start=1):
        where = f"item {n} ({raw.get('id', '?')})"
        unknown = set(raw) - {f.name for f in Item.__dataclass_fields__.values()}
        if unknown:
            problems.append(f"{where}: unknown fields {', '.join(sorted(unknown))}")
            continue
        try:
            item = Item(**raw)
        except TypeError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if not ITEM_ID.fullmatch(item.id):
            problems.append(f"{where}: ids are lowercase words joined by dots or underscores")
        if item.id in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(item.id)
        if item.kind not in KINDS:
            problems.append(f"{where}: kind must be one of {', '.join(KINDS)}")
        if item.visibility not in VISIBILITIES:
            problems.append(f"{where}: visibility must be one of {', '.join(VISIBILITIES)}")
        if not isinstance(item.points, (int, float)) or item.points <= 0:
            problems.append(f"{where}: points must be a positive number")
        if item.kind == "manual" and not item.reference:
            problems.append(f"{where}: a manual item needs a reference answer for whoever grades it")
        items.append(item)
    if not items:
        problems.append("the rubric has no items")
    if isinstance(total, (int, float)) and items:
        points = sum(i.points for i in items if isinstance(i.points, (int, float)))
        if not math.isclose(points, total, abs_tol=1e-9):
            problems.append(f"the items' points add up to {points:g}, not the assignment's total of {total:g}")
    try:
        limits = Limits.from_table(data.get("sandbox"))
    except (TypeError, ValueError) as exc:
        problems.append(f"[sandbox]: {exc}")
        limits = Limits()
    if problems:
        raise RubricError(f"{path}:\n  - " + "\n  - ".join(problems))
    return Rubric(assignment, head.get("title", assignment), float(total), tuple(items), limits, path)
