"""Task 1: GPT-2's tokenizer, against tiktoken's gpt2 encoding."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import expect_equal

TEXTS = [
    "Hello world",
    "The capital of France is Paris.",
    "  two leading spaces,\ttabs and\nnewlines\n\n",
    "naïve café, 🤖 and 日本語",
    "I'll say it's done, they've left, we're here<|endoftext|>",
    "def f(x):\n    return x ** 2  # code\n",
]


@pytest.mark.rubric("task1.tokenizer")
@pytest.mark.parametrize("text", TEXTS)
def test_encode_gives_gpt2s_token_ids(adapters, gpt2_encoding, text):
    expect_equal(adapters.encode(text), gpt2_encoding.encode(text, allowed_special={"<|endoftext|>"}), what=f"encode({text!r})")


@pytest.mark.rubric("task1.tokenizer")
@settings(max_examples=30)
@given(text=st.text(max_size=40))
def test_decode_inverts_encode(adapters, text):
    expect_equal(adapters.decode(adapters.encode(text)), text, what=f"decode(encode({text!r}))")
