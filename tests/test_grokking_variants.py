"""Each grokking submission with a known bug loses the points of the item its bug belongs to, and
only those.

The variants are edits of the reference (fixtures/grokking_variants/*.toml, see its README), built
here into a fresh submission folder with the reference's checkpoints and graded for real
(tests/variants.py). Grading the whole assignment takes about a minute a variant, so each variant
runs every check; `--full-variants` changes nothing here and is accepted for symmetry.
"""

import pytest

from grader.run import grade

from .variants import build_variant, expect_variant_scores, load_variant, rubric_of, variant_paths

RUBRIC = rubric_of("grokking")


@pytest.mark.slow
@pytest.mark.parametrize("path", variant_paths("grokking"), ids=lambda p: p.stem)
def test_each_variant_loses_exactly_the_points_its_bug_should(path, tmp_path):
    spec = load_variant(path)
    submission = build_variant("grokking", spec, tmp_path / path.stem)
    run = grade(submission, tmp_path / "report", ["grokking"], timeout=900)
    expect_variant_scores(run, spec, RUBRIC, {item.id for item in RUBRIC.items})
