"""Tokenizer for modular-arithmetic equations and short texts.

    encode("12/5=41")                  -> [NUMBER 12, '/', NUMBER 5, '=', NUMBER 41]   5 tokens
    encode("I love machine learning")  -> one token per UTF-8 byte                     23 tokens

Numbers 0 .. MAX_NUMBER - 1 written without leading zeros are single tokens, so the answer c of
an equation is ONE token: the model predicts it in one step and the loss sits on one position.
(With character tokens, "a/b=c" would have a 1-3 token answer, and an answer would be right only
if every digit is.) Every other character is a UTF-8 byte token, so any string round-trips:
decode(encode(text)) == text. A digit run that is not such a number ("007", "500") is written as
one number token per digit, which decodes back to the same digits.

Ids: 0 is PAD, 1 .. MAX_NUMBER are the numbers, then the 256 bytes.
"""

from __future__ import annotations

import re

MAX_NUMBER = 113  # numbers 0..112: every residue modulo p = 97 and p = 113
PAD = 0  # filler id; the attention mask, not the id, tells the model a position is padding
NUMBER_OFFSET = 1
BYTE_OFFSET = NUMBER_OFFSET + MAX_NUMBER
VOCAB_SIZE = BYTE_OFFSET + 256  # 370

_DIGIT_RUN = re.compile(r"[0-9]+")


def number_id(n: int) -> int:
    """The token id of the number n (0 <= n < MAX_NUMBER)."""
    if not 0 <= n < MAX_NUMBER:
        raise ValueError(f"{n} has no number token (0 <= n < {MAX_NUMBER})")
    return NUMBER_OFFSET + n


def _encode_digits(digits: str) -> list[int]:
    if (digits == "0" or digits[0] != "0") and int(digits) < MAX_NUMBER:
        return [number_id(int(digits))]
    return [number_id(int(d)) for d in digits]  # decodes back to the same digits


def encode(text: str) -> list[int]:
    ids: list[int] = []
    position = 0
    for match in _DIGIT_RUN.finditer(text):
        ids += [BYTE_OFFSET + b for b in text[position : match.start()].encode("utf-8")]
        ids += _encode_digits(match.group())
        position = match.end()
    ids += [BYTE_OFFSET + b for b in text[position:].encode("utf-8")]
    return ids


def decode(ids: list[int]) -> str:
    """Text of token ids; PAD decodes to nothing."""
    out = bytearray()
    for i in ids:
        i = int(i)
        if i == PAD:
            continue
        if NUMBER_OFFSET <= i < BYTE_OFFSET:
            out += str(i - NUMBER_OFFSET).encode("ascii")
        elif BYTE_OFFSET <= i < VOCAB_SIZE:
            out.append(i - BYTE_OFFSET)
        else:
            raise ValueError(f"token id {i} is outside the vocabulary (0 .. {VOCAB_SIZE - 1})")
    return out.decode("utf-8", errors="replace")
