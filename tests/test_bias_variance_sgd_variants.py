"""Each bias_variance_sgd submission with a known bug loses the points of the item its bug belongs
to, and only those.

The variants are edits of the reference (fixtures/bias_variance_sgd_variants/*.toml, see its
README), built here into a fresh submission folder and graded for real (tests/variants.py). To keep
the default run short, a variant is graded on the grader file that holds its item's checks, which
is every check its edit can reach: each problem's code is its own module (bias_variance.py,
parameter_server.py, chatbot.py, sweep.py) and answers.toml's values are read one key at a time.
`python -m pytest tests/test_bias_variance_sgd_variants.py --full-variants` grades every variant
on the whole assignment instead.
"""

import pytest

from grader.run import grade

from .variants import (build_variant, expect_variant_scores, grader_files_for, load_variant, rubric_of,
                       variant_items, variant_paths)

RUBRIC = rubric_of("bias_variance_sgd")


def scope(spec: dict, full: bool) -> tuple[list, set[str]]:
    """(the grader files to run, the rubric items those run) for grading this variant."""
    if full:
        return [], {item.id for item in RUBRIC.items if item.kind == "auto"}
    return grader_files_for("bias_variance_sgd", set(variant_items(spec)))


@pytest.mark.parametrize("path", variant_paths("bias_variance_sgd"), ids=lambda p: p.stem)
def test_each_variant_loses_exactly_the_points_its_bug_should(path, tmp_path, request):
    spec = load_variant(path)
    args, graded = scope(spec, request.config.getoption("full_variants"))
    submission = build_variant("bias_variance_sgd", spec, tmp_path / path.stem)
    run = grade(submission, tmp_path / "report", ["bias_variance_sgd"], tests=args, timeout=600)
    expect_variant_scores(run, spec, RUBRIC, graded)
