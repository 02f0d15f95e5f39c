"""What a grading run found: test outcomes grouped into rubric items, and the scores they earn.

Scoring rule (DESIGN.md): an auto item earns its points times the fraction of its tests that
passed, or all-or-nothing when its rubric says so. A test may carry a weight
(`@pytest.mark.rubric("gqa", weight=3)`, default 1): the fraction is then of the weights, so the
check at the heart of an item can count for more than its edge cases. Skipped tests count neither way. Manual
items earn nothing automatically: they are pending until a person scores them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.rubric import Item, Rubric
from grader.text import first_line


@dataclass
class TestRecord:
    __test__ = False  # not a pytest test class, despite its name

    nodeid: str
    name: str  # e.g. "test_q1[q1.intercept]"
    item: str
    outcome: str = "passed"  # passed, failed or skipped
    message: str = ""  # why it failed or was skipped, written for the student
    internal_error: bool = False  # the grader itself broke: course staff must look
    duration: float = 0.0
    weight: float = 1.0  # its share of the item's points, relative to the item's other tests


@dataclass
class ItemResult:
    item: Item
    number: str
    tests: list[TestRecord]
    score: float
    status: str  # passed, partial, failed, pending (manual) or not_run
    reason: str  # one line on why points were lost

    @property
    def passed(self) -> int:
        return sum(t.outcome == "passed" for t in self.tests)

    @property
    def counted(self) -> int:
        return sum(t.outcome != "skipped" for t in self.tests)


@dataclass
class AssignmentResult:
    rubric: Rubric
    items: list[ItemResult]
    folder: str  # where the submission's folder for it was, as shown to people
    explanations: dict[str, str] = field(default_factory=dict)  # item id -> the student's text
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(i.score for i in self.items), 4)

    @property
    def auto_max(self) -> float:
        return self.rubric.auto_points

    @property
    def manual_pending(self) -> float:
        return self.rubric.manual_points


@dataclass
class GradingResult:
    submission: str
    assignments: list[AssignmentResult]
    execution_time: float = 0.0
    partial_run: bool = False  # only some tests ran (-k, -m, a single file): not a full grade
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(a.score for a in self.assignments), 4)

    @property
    def auto_max(self) -> float:
        return sum(a.auto_max for a in self.assignments)

    @property
    def manual_pending(self) -> float:
        return sum(a.manual_pending for a in self.assignments)

    @property
    def max_score(self) -> float:
        return sum(a.rubric.total for a in self.assignments)

    def items(self):
        for a in self.assignments:
            for i in a.items:
                yield a, i


def score_item(item: Item, number: str, tests: list[TestRecord]) -> ItemResult:
    if item.kind == "manual":
        return ItemResult(item, number, tests, 0.0, "pending", "awaits a person")
    counted = [t for t in tests if t.outcome != "skipped"]
    if not counted:
        reason = first_line(tests[0].message) if tests else "no test of this item ran"
        return ItemResult(item, number, tests, 0.0, "not_run", f"not run: {reason}" if tests else reason)
    passed = sum(t.outcome == "passed" for t in counted)
    fraction = sum(t.weight for t in counted if t.outcome == "passed") / sum(t.weight for t in counted)
    if item.all_or_nothing:
        fraction = 1.0 if passed == len(counted) else 0.0
    score = round(item.points * fraction, 4)
    status = "passed" if passed == len(counted) else ("failed" if passed == 0 else "partial")
    reason = ""
    failed = [t for t in counted if t.outcome == "failed"]
    if failed:
        if item.visibility == "hidden":
            reason = f"{len(failed)} of {len(counted)} hidden checks failed"
        else:
            reason = first_line(failed[0].message) or "failed"
            if len(failed) > 1:
                reason = f"{reason} (+{len(failed) - 1} more)"
    return ItemResult(item, number, tests, score, status, reason)


def score_assignment(rubric: Rubric, index: int, records: list[TestRecord], folder: str) -> AssignmentResult:
    by_item: dict[str, list[TestRecord]] = {i.id: [] for i in rubric.items}
    for record in records:
        by_item.setdefault(record.item, []).append(record)
    items = [score_item(item, f"{index}.{n}", by_item[item.id]) for n, item in enumerate(rubric.items, start=1)]
    return AssignmentResult(rubric, items, folder)
