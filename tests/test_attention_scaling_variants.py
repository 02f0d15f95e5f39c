"""Each attention_scaling submission with a known bug loses the points of the item its bug belongs
to, and only those.

The variants are edits of the reference (fixtures/attention_scaling_variants/*.toml, see its
README), built into a fresh submission folder and graded for real (tests/variants.py). To keep the
default run short, a variant is graded only on the grader files that check its items, plus the
decoder's checks for a bug in causal attention (the decoder uses it and must not be charged for it);
and the bugs that only show that every check catches what it targets share two variants, one bug
per item (their `item` is a list), which keeps the number of gradings, and so the run, short.
`--full-variants` grades every variant on the whole assignment.
"""

import pytest

from grader.run import grade

from .variants import (build_variant, expect_variant_scores, grader_files_for, load_variant, rubric_of,
                       variant_items, variant_paths)

RUBRIC = rubric_of("attention_scaling")


def scope(spec: dict, full: bool) -> tuple[list, set[str]]:
    """(the grader files to run, the rubric items that run) for grading this variant: the files holding
    its items' checks, and the decoder's too for a bug in causal attention (the decoder uses it)."""
    if full:
        return [], {item.id for item in RUBRIC.items}
    items = set(variant_items(spec))
    if "attention.causal" in items:
        items.add("decoder.forward")
    return grader_files_for("attention_scaling", items)


@pytest.mark.parametrize("path", variant_paths("attention_scaling"), ids=lambda p: p.stem)
def test_each_variant_loses_exactly_the_points_its_bug_should(path, tmp_path, request):
    spec = load_variant(path)
    args, graded = scope(spec, request.config.getoption("full_variants"))
    submission = build_variant("attention_scaling", spec, tmp_path / path.stem)
    run = grade(submission, tmp_path / "report", ["attention_scaling"], tests=args, timeout=900)
    expect_variant_scores(run, spec, RUBRIC, graded)
