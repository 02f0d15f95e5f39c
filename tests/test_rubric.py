"""Rubrics are checked when loaded: every problem is reported at once, with the file it is in."""

import pytest

from grader.rubric import RubricError, load_rubric

GOOD = """
[assignment]
id = "hw"
total = 3

[sandbox]
call_timeout_s = 30
memory_gib = 2

[[items]]
id = "part_a"
title = "Part A"
points = 2

[[items]]
id = "essay"
title = "Essay"
points = 1
kind = "manual"
reference = "A model answer."
"""


def write(tmp_path, text):
    folder = tmp_path / "hw"
    folder.mkdir(exist_ok=True)
    path = folder / "rubric.toml"
    path.write_text(text)
    return path


def test_a_good_rubric_loads_with_its_limits(tmp_path):
    rubric = load_rubric(write(tmp_path, GOOD))
    assert [i.id for i in rubric.items] == ["part_a", "essay"]
    assert rubric.auto_points == 2 and rubric.manual_points == 1
    assert rubric.limits.call_timeout_s == 30 and rubric.limits.memory_bytes == 2 << 30


@pytest.mark.parametrize(
    "change, message",
    [
        (("total = 3", "total = 4"), "add up to 3, not the assignment's total of 4"),
        (('kind = "manual"', 'kind = "robot"'), "kind must be one of auto, manual"),
        (('reference = "A model answer."', ""), "needs a reference answer"),
        (('id = "essay"', 'id = "part_a"'), "duplicate id"),
        (("points = 2", "points = -2"), "points must be a positive number"),
        (('title = "Part A"', 'title = "Part A"\nvisibility = "secret"'), "visibility must be one of"),
        (('title = "Part A"', 'title = "Part A"\nweight = 3'), "unknown fields weight"),
        (("memory_gib = 2", "memory_gb = 2"), "unknown sandbox limits: memory_gb"),
        (('id = "hw"', 'id = "other"'), "but the folder is 'hw'"),
    ],
)
def test_each_problem_is_named(tmp_path, change, message):
    with pytest.raises(RubricError, match=message):
        load_rubric(write(tmp_path, GOOD.replace(*change)))


def test_an_items_score_is_the_passed_share_of_its_tests_weights():
    from grader.results import TestRecord, score_item
    from grader.rubric import Item

    item = Item("gqa", "GQA", points=10)
    tests = [
        TestRecord("t::core", "test_core", "gqa", "failed", "wrong grouping", weight=3),
        TestRecord("t::edge", "test_edge", "gqa", "passed"),
        TestRecord("t::skip", "test_skip", "gqa", "skipped", "needs a GPU", weight=5),
    ]
    assert score_item(item, "1.1", tests).score == 2.5  # 1 of the 4 weight units that ran
