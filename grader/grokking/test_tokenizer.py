"""Part 1: the tokenizer round-trips the texts the assignment uses: equations and the sanity string."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect_equal, fail

from . import reference

TEXTS = [reference.SANITY_TEXT, "12/5=41", "0+0=0", "112-112=0", "96/1=96", "100+12=112", "7-9=95"]


@pytest.mark.rubric("part1.tokenizer")
@pytest.mark.parametrize("text", TEXTS)
def test_decode_inverts_encode(adapters, text):
    ids = adapters.encode(text)
    if not isinstance(ids, list) or not ids or not all(type(i) is int and i >= 0 for i in ids):
        fail(f"encode({text!r}) is {ids!r}; expected a non-empty list of non-negative int token ids")
    expect_equal(adapters.decode(ids), text, what=f"decode(encode({text!r}))")


@pytest.mark.rubric("part1.tokenizer")
@settings(max_examples=20)
@given(operation=st.sampled_from(reference.OPERATIONS), a=st.integers(0, 112), b=st.integers(0, 112), c=st.integers(0, 112))
def test_every_equation_text_round_trips(adapters, operation, a, b, c):
    text = reference.text(operation, a, b, c)  # wrong answers too: the tokenizer does not judge
    expect_equal(adapters.decode(adapters.encode(text)), text, what=f"decode(encode({text!r}))")
