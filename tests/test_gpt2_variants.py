"""Each GPT-2 submission with a known bug loses the points of the item its bug belongs to, and only
those; the correct variant (the other rotary pairing) scores full marks.

The variants are edits of the reference (fixtures/gpt2_variants/*.toml, see its README), built
here into a fresh submission folder and graded for real (tests/variants.py). To keep the default
run short, a variant is graded on the part of the assignment its edit can reach:

- a model variant (tasks 1-2) runs every check except the two-process ones. Those compare DDP and
  FSDP with the submission's own single-process result, so a model bug cannot move them; the
  single-device training item, which compares with Hugging Face, is checked.
- a training variant (task 3) edits only train.py, which the task-1/2 adapters never call, and runs
  task 3's checks.

`python -m pytest tests/test_gpt2_variants.py --full-variants` grades every variant on everything.
"""

import pytest

from grader.run import grade

from .variants import ROOT, build_variant, expect_variant_scores, load_variant, rubric_of, variant_paths

RUBRIC = rubric_of("gpt2")
TRAINING_ITEMS = {"task3.single", "task3.ddp", "task3.fsdp"}
DISTRIBUTED_ITEMS = {"task3.ddp", "task3.fsdp"}


def scope(spec: dict, full: bool) -> tuple[dict, set[str]]:
    """(grade()'s selection arguments, the rubric items that run) for grading this variant."""
    everything = {item.id for item in RUBRIC.items}
    if full:
        return {}, everything
    if spec["item"] in TRAINING_ITEMS:
        return {"tests": [ROOT / "grader" / "gpt2" / "test_task3_training.py"]}, TRAINING_ITEMS
    return {"extra_args": ["-m", "not distributed"]}, everything - DISTRIBUTED_ITEMS


@pytest.mark.parametrize("path", variant_paths("gpt2"), ids=lambda p: p.stem)
def test_each_variant_loses_exactly_the_points_its_bug_should(path, tmp_path, request):
    spec = load_variant(path)
    args, graded = scope(spec, request.config.getoption("full_variants"))
    submission = build_variant("gpt2", spec, tmp_path / path.stem)
    run = grade(submission, tmp_path / "report", ["gpt2"], timeout=900, **args)
    expect_variant_scores(run, spec, RUBRIC, graded)
