"""Answer checkers: equivalent answers pass, wrong ones fail with a reason, and nothing is evaluated."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.answers import AnswerError, complexity_class, equivalent, parse_expression, read_answers

W = ["w_0", "w_1", "w_n"]
MNK = ["m", "n", "k"]


def same(a: str, b: str, variables=("n", "k")) -> bool:
    variables = list(variables)
    return equivalent(parse_expression(a, variables), parse_expression(b, variables), variables)


@pytest.mark.parametrize(
    "a, b",
    [("k/n", "k * n^-1"), ("(k+1)/(n+2)", "(1 + k)/(2 + n)"), ("0.5*k", "k/2"), ("k·n", "n*k"), ("log(n)*2", "log(n**2)")],
)
def test_equivalent_formulas_are_accepted(a, b):
    assert same(a, b)


@pytest.mark.parametrize("a, b", [("k/n", "(k+1)/(n+2)"), ("k/n", "n/k"), ("k", "k+1")])
def test_different_formulas_are_rejected(a, b):
    assert not same(a, b)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("__import__('os').system('id')", "not allowed"),
        ("w_n.__class__", "not allowed"),
        ("(lambda: w_n)()", "not allowed"),
        ("[w_n][0]", "not allowed"),
        ("open('/etc/passwd')", "not allowed"),
        ("x + 1", "unknown name 'x'"),
        ("2 w_n", "write products with '*'"),
        ("9**9**9**9", "too large a power"),
        ("w_n / 0", "divides by zero"),
        ("1" * 400, "characters long"),
        ("(" * 200 + "w_n" + ")" * 200, "formula"),
        ("", "empty"),
    ],
)
def test_unsafe_or_malformed_formulas_are_refused_with_a_reason(text, reason):
    with pytest.raises(AnswerError, match=reason):
        parse_expression(text, W)


@given(st.text(max_size=60))
def test_parsing_any_text_either_succeeds_or_raises_answer_error(text):
    try:
        parse_expression(text, MNK)
    except AnswerError:
        pass


@pytest.mark.parametrize("a, b", [("O(m*k)", "O(k*m)"), ("O(m*k)", "O(2*m*k)"), ("O(m*k)", "O(m*k + m + 7)"), ("O(n)", "O(3*n + 1)")])
def test_equal_complexity_classes(a, b):
    assert complexity_class(a, MNK) == complexity_class(b, MNK)


@pytest.mark.parametrize("a, b", [("O(m*k)", "O(m*n)"), ("O(m*k)", "O(m*k + n)"), ("O(m*k)", "O(m*k*log(n))"), ("O(m)", "O(m**2)")])
def test_different_complexity_classes(a, b):
    assert complexity_class(a, MNK) != complexity_class(b, MNK)


@pytest.mark.parametrize("text, reason", [("m*k", "big-O class"), ("O(m*k - n)", "negative"), ("O(nnz)", "unknown name 'nnz'")])
def test_malformed_complexity_answers(text, reason):
    with pytest.raises(AnswerError, match=reason):
        complexity_class(text, MNK)


def test_reading_answers_explains_each_kind_of_broken_file(tmp_path):
    folder = tmp_path / "ml_qa"
    folder.mkdir()
    path = folder / "answers.toml"
    with pytest.raises(AnswerError, match="ml_qa/answers.toml is missing"):
        read_answers(path)
    path.write_text('[q1]\nintercept = "w_0\n')
    with pytest.raises(AnswerError, match=r"not valid TOML.*line 2"):
        read_answers(path)
    path.write_bytes(b"[q1]\nintercept = \"\xff\"\n")
    with pytest.raises(AnswerError, match="not UTF-8"):
        read_answers(path)
    path.write_text("x = " + "[" * 5000 + "]" * 5000)
    with pytest.raises(AnswerError):
        read_answers(path)
    path.write_text("x = " + "9" * 5000)
    with pytest.raises(AnswerError, match="could not be read"):
        read_answers(path)
    path.write_text("# padding\n" * 40_000)
    with pytest.raises(AnswerError, match="larger than"):
        read_answers(path)
