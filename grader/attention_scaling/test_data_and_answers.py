"""Part 1's multiple-choice answers (answers.toml) and part 2's Pig Latin rules.

Pig Latin words are chosen where the handout's rules leave nothing open: lowercase letters, a
vowel among a, e, i, o, u, no "y" and no "qu".
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.answers import check_answer
from grader.checks import expect_equal

from . import reference

CONSONANTS = "bcdfghjklmnprstvwxz"  # no y, and no q (so no "qu")


@pytest.mark.rubric("part1.q1_1_2a")
def test_q1_1_2a_choice(submission):
    check_answer(submission, "q1_1_2.choice")


@pytest.mark.rubric("part1.q1_2")
def test_q1_2_choice(submission):
    check_answer(submission, "q1_2.choice")


@pytest.mark.rubric("nmt.pig_latin", weight=2)
@pytest.mark.parametrize("sentence, translation", [
    ("the air conditioning is working", "ethay airway onditioningcay isway orkingway"),
    ("string a of strength", "ingstray away ofway engthstray"),
])
def test_pig_latin_of_given_sentences(adapters, sentence, translation):
    expect_equal(adapters.pig_latin(sentence), translation, what=f"pig_latin({sentence!r})")


@st.composite
def words(draw):
    """A consonant cluster (maybe empty), a vowel, then any letters but y and q."""
    cluster = draw(st.text(CONSONANTS, max_size=3))
    rest = draw(st.text(CONSONANTS + "aeiou", max_size=6))
    return cluster + draw(st.sampled_from("aeiou")) + rest


@pytest.mark.rubric("nmt.pig_latin")
@settings(max_examples=5)
@given(sentence=st.lists(words(), min_size=1, max_size=6))
def test_pig_latin_follows_the_rules(adapters, sentence):
    text = " ".join(sentence)
    expect_equal(adapters.pig_latin(text), " ".join(reference.pig_latin_word(w) for w in sentence), what=f"pig_latin({text!r})")
