"""Each GPT-2 submission with a known bug loses the points of the item its bug belongs to, and only
those; the correct variant (the other rotary pairing) scores full marks.

The variants are edits of the reference (fixtures/gpt2_variants/*.toml, see its README), built
here into a fresh submission folder and graded for real (tests/variants.py). A grading of GPT-2
costs a minute or more on the 2-core CI machine, so to keep the default run short a variant is
graded by the grader files that check the item its edit belongs to (`item`) and the items it
loses (`[expected]`): every check of those files must score as expected, so the bug is shown to
fail its check and to leave the other items of the same files alone, and the correct variant
(the other rotary pairing) is shown to pass the rotary checks.

`python -m pytest tests/test_gpt2_variants.py --full-variants` grades every variant on everything,
which shows that each bug costs no item outside those files either (run before each release;
the figures of the last run are in the README).
"""

import pytest

from grader.run import grade

from .variants import (build_variant, expect_variant_scores, grader_files_for, load_variant, rubric_of,
                       variant_items, variant_paths)

RUBRIC = rubric_of("gpt2")


def scope(spec: dict, full: bool) -> tuple[list, set[str]]:
    """(the grader files to run, the rubric items that run) for grading this variant."""
    if full:
        return [], {item.id for item in RUBRIC.items}
    return grader_files_for("gpt2", set(variant_items(spec)) | set(spec.get("expected", {})))


@pytest.mark.parametrize("path", variant_paths("gpt2"), ids=lambda p: p.stem)
def test_each_variant_loses_exactly_the_points_its_bug_should(path, tmp_path, request):
    spec = load_variant(path)
    args, graded = scope(spec, request.config.getoption("full_variants"))
    submission = build_variant("gpt2", spec, tmp_path / path.stem)
    run = grade(submission, tmp_path / "report", ["gpt2"], tests=args, timeout=900)
    expect_variant_scores(run, spec, RUBRIC, graded)
