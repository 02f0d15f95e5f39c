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

from .conftest import ROOT
from .variants import build_variant, expect_variant_scores, load_variant, rubric_of, variant_items, variant_paths

RUBRIC = rubric_of("bias_variance_sgd")
FILES = {  # item id prefix -> the grader file with its checks
    "p1.": "test_p1_bias_variance.py",
    "p2.": "test_p2_scaling.py",
    "p3.": "test_p3_p4_sgd.py",
    "p4.": "test_p3_p4_sgd.py",
    "p5.sweep": "test_p5_sweep.py",
    "p5.": "test_p5_chatbot.py",
}


def grader_file(item_id: str) -> str:
    return next(name for prefix, name in FILES.items() if item_id.startswith(prefix))


def scope(spec: dict, full: bool) -> tuple[list[str], set[str]]:
    """(the grader files to run, the automatic rubric items those run) for grading this variant."""
    automatic = {item.id for item in RUBRIC.items if item.kind == "auto"}
    if full:
        return [], automatic
    names = sorted({grader_file(i) for i in variant_items(spec)})
    return [ROOT / "grader" / "bias_variance_sgd" / name for name in names], {i for i in automatic if grader_file(i) in names}


@pytest.mark.parametrize("path", variant_paths("bias_variance_sgd"), ids=lambda p: p.stem)
def test_each_variant_loses_exactly_the_points_its_bug_should(path, tmp_path, request):
    spec = load_variant(path)
    args, graded = scope(spec, request.config.getoption("full_variants"))
    submission = build_variant("bias_variance_sgd", spec, tmp_path / path.stem)
    run = grade(submission, tmp_path / "report", ["bias_variance_sgd"], tests=args, timeout=600)
    expect_variant_scores(run, spec, RUBRIC, graded)
