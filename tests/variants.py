"""Fixture submissions with known bugs, written as edits of a reference solution.

fixtures/<assignment>_variants/*.toml each describe one submission: copy solutions/<assignment>/,
replace each [[edit]]'s `old` text (which must occur exactly once) by `new`, and grade the result.
`[expected]` holds the exact score of every rubric item that loses points; every other item must
keep full marks. `item` names the item the bug belongs to, or lists several for a variant with one
bug in each of several items. `correct = true` marks a variant that must score full marks.

    for path in variant_paths("grokking"):
        spec = load_variant(path)
        folder = build_variant("grokking", spec, tmp_path / path.stem)
        run = grade(folder, report, ["grokking"], extra_args=...)
        expect_variant_scores(run, spec, rubric_of("grokking"), graded_items)

Each assignment's test module (tests/test_<assignment>_variants.py) decides which part of its
grader a variant's edit can reach, so that the default run stays short; `--full-variants` grades
every variant on everything.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest

from grader.rubric import Rubric, load_rubric

from .conftest import ROOT

# What a variant never needs: written reports and their figures (checkpoints and data are kept).
NOT_COPIED = ("__pycache__", "figures", "*.md")


def variant_paths(assignment: str) -> list[Path]:
    return sorted((ROOT / "fixtures" / f"{assignment}_variants").glob("*.toml"))


def load_variant(path: Path) -> dict:
    return tomllib.loads(path.read_text())


def rubric_of(assignment: str) -> Rubric:
    return load_rubric(ROOT / "specs" / assignment / "rubric.toml")


def build_variant(assignment: str, spec: dict, folder: Path) -> Path:
    """Copy solutions/<assignment> into folder/<assignment> and apply the spec's edits; returns folder."""
    package = folder / assignment
    shutil.copytree(ROOT / "solutions" / assignment, package, ignore=shutil.ignore_patterns(*NOT_COPIED))
    for edit in spec["edit"]:
        path = package / edit["file"]
        text = path.read_text()
        assert text.count(edit["old"]) == 1, f"{edit['file']}: the text to replace must occur exactly once: {edit['old']!r}"
        path.write_text(text.replace(edit["old"], edit["new"]))
    return folder


def item_scores(run) -> dict[str, dict]:
    """results.json's tests by rubric item id."""
    return {t["name"].rsplit(":", 1)[1].rstrip("]"): t for t in run.results["tests"]}


def expect_variant_scores(run, spec: dict, rubric: Rubric, graded: set[str]) -> None:
    """Every graded automatic item scores what [expected] says, or full marks; the bug costs its own item."""
    scores = item_scores(run)
    expected = spec.get("expected", {})
    for item in rubric.items:
        if item.id in graded and item.kind == "auto":  # manual items await a person
            want = expected.get(item.id, item.points)  # items the bug does not touch keep full marks
            assert scores[item.id]["score"] == pytest.approx(want, abs=1e-4), f"{item.id}: {scores[item.id]['output']}"
    if spec.get("correct"):
        assert expected == {}, "a correct variant expects full marks"
    else:
        for item_id in variant_items(spec):
            assert scores[item_id]["score"] < rubric.item(item_id).points, f"the bug in {item_id} must cost that item points"


def variant_items(spec: dict) -> list[str]:
    """The items a variant's bugs belong to: `item` names one, or lists several (one bug in each)."""
    return spec["item"] if isinstance(spec["item"], list) else [spec["item"]]


RUBRIC_MARK = re.compile(r"""rubric\(\s*["']([^"']+)["']""")


def grader_files_for(assignment: str, items: set[str]) -> tuple[list[Path], set[str]]:
    """(the grader files holding a check of any of these items, every item those files check)."""
    files, graded = [], set()
    for path in sorted((ROOT / "grader" / assignment).glob("test_*.py")):
        checked = set(RUBRIC_MARK.findall(path.read_text()))
        if checked & items:
            files.append(path)
            graded |= checked
    return files, graded
