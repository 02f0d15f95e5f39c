"""Each GPT-2 submission with a known bug loses the points of the item its bug belongs to, and only
those; the correct variant (the other rotary pairing) scores full marks.

The variants are edits of the reference (fixtures/gpt2_variants/*.toml, see its README), built
here into a fresh submission folder and graded for real. To keep the default run short, a variant
is graded on the part of the assignment its edit can reach:

- a model variant (tasks 1-2) runs every check except the two-process ones. Those compare DDP and
  FSDP with the submission's own single-process result, so a model bug cannot move them; the
  single-device training item, which compares with Hugging Face, is checked.
- a training variant (task 3) edits only train.py, which the task-1/2 adapters never call, and runs
  task 3's checks.

`python -m pytest tests/test_gpt2_variants.py --full-variants` grades every variant on everything.
"""

import shutil
import tomllib

import pytest

from grader.rubric import load_rubric
from grader.run import grade

from .conftest import ROOT

VARIANTS = ROOT / "fixtures" / "gpt2_variants"
RUBRIC = load_rubric(ROOT / "specs" / "gpt2" / "rubric.toml")
TRAINING_ITEMS = {"task3.single", "task3.ddp", "task3.fsdp"}
DISTRIBUTED_ITEMS = {"task3.ddp", "task3.fsdp"}


def build_variant(spec: dict, folder):
    """Copy solutions/gpt2 into folder/gpt2 and apply the spec's edits (each must match exactly once)."""
    package = folder / "gpt2"
    shutil.copytree(ROOT / "solutions" / "gpt2", package, ignore=shutil.ignore_patterns("__pycache__", "figures", "*.md"))
    for edit in spec["edit"]:
        path = package / edit["file"]
        text = path.read_text()
        assert text.count(edit["old"]) == 1, f"{edit['file']}: the text to replace must occur exactly once: {edit['old']!r}"
        path.write_text(text.replace(edit["old"], edit["new"]))
    return folder


def scope(spec: dict, full: bool) -> tuple[list[str], set[str]]:
    """(pytest arguments, the rubric items that run) for grading this variant."""
    everything = {item.id for item in RUBRIC.items}
    if full:
        return [], everything
    if spec["item"] in TRAINING_ITEMS:
        return [str(ROOT / "grader" / "gpt2" / "test_task3_training.py")], TRAINING_ITEMS
    return ["-m", "not distributed"], everything - DISTRIBUTED_ITEMS


@pytest.mark.parametrize("path", sorted(VARIANTS.glob("*.toml")), ids=lambda p: p.stem)
def test_each_variant_loses_exactly_the_points_its_bug_should(path, tmp_path, request):
    spec = tomllib.loads(path.read_text())
    args, graded = scope(spec, request.config.getoption("full_variants"))
    submission = build_variant(spec, tmp_path / path.stem)
    run = grade(submission, tmp_path / "report", ["gpt2"], extra_args=args, timeout=900)
    scores = {t["name"].rsplit(":", 1)[1].rstrip("]"): t for t in run.results["tests"]}
    expected = spec.get("expected", {})
    for item in RUBRIC.items:
        if item.id in graded:
            want = expected.get(item.id, item.points)  # items the bug does not touch keep full marks
            assert scores[item.id]["score"] == pytest.approx(want, abs=1e-4), f"{item.id}: {scores[item.id]['output']}"
    if spec.get("correct"):
        assert expected == {}, "a correct variant expects full marks"
    else:
        assert scores[spec["item"]]["score"] < RUBRIC.item(spec["item"]).points, "the bug must cost its own item points"
