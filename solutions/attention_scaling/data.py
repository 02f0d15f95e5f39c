"""Part 2: Pig Latin word pairs, the character vocabulary, and batches.

Words come from English prose that ships with every Python installation (the help texts in the
standard library's pydoc_data), so nothing is downloaded; `python -m solutions.attention_scaling.data`
writes the word list once to data/words.txt, and everything else reads that file.

Like the original assignment, the model translates single words; a sentence is translated word by
word. Pairs are batched by (source length, target length), so a batch needs no padding.
"""

import argparse
import random
import re
from collections import defaultdict
from pathlib import Path

import torch

HERE = Path(__file__).parent
WORDS_FILE = HERE / "data" / "words.txt"
VOWELS = set("aeiou")
TEST_SENTENCE = "the air conditioning is working"
TEST_TRANSLATION = "ethay airway onditioningcay isway orkingway"

# Vocabulary: 30 ids, as in the handout's scaling sweep.
SOS, EOS, EOP = "<SOS>", "<EOS>", "<EOP>"
SYMBOLS = [SOS, EOS, EOP, "-"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
INDEX = {s: i for i, s in enumerate(SYMBOLS)}
VOCAB_SIZE = len(SYMBOLS)
SOS_ID, EOS_ID, EOP_ID = INDEX[SOS], INDEX[EOS], INDEX[EOP]


# ---------------------------------------------------------------------------------------
# Pig Latin
# ---------------------------------------------------------------------------------------


def pig_latin_word(word: str) -> str:
    """"air" -> "airway"; "the" -> "ethay": the leading consonant cluster moves to the end + "ay".
    Each part of a hyphenated word is translated on its own."""
    if "-" in word:
        return "-".join(pig_latin_word(part) for part in word.split("-"))
    if not word or word[0] in VOWELS:
        return word + "way"
    cluster = 0
    while cluster < len(word) and word[cluster] not in VOWELS:
        cluster += 1
    return word[cluster:] + word[:cluster] + "ay"


def pig_latin(text: str) -> str:
    """A sentence translated word by word (words separated by single spaces)."""
    return " ".join(pig_latin_word(w) for w in text.split())


# ---------------------------------------------------------------------------------------
# Words and pairs
# ---------------------------------------------------------------------------------------


def collect_words() -> list[str]:
    """Distinct lowercase words (letters, maybe one hyphen) of 2-12 letters with a vowel, sorted."""
    from pydoc_data.topics import topics

    text = " ".join(topics.values()).lower()
    words = set(re.findall(r"(?<![\w-])[a-z]+(?:-[a-z]+)?(?![\w-])", text))
    words |= set(TEST_SENTENCE.split())
    return sorted(w for w in words if 2 <= len(w) <= 12 and VOWELS & set(w))


def load_words() -> list[str]:
    return WORDS_FILE.read_text().split()


def split_words(words: list[str], seed: int = 0, val_fraction: float = 0.1) -> tuple[list[str], list[str]]:
    """(train, validation): a seeded shuffle; the test sentence's words are kept in train."""
    rng = random.Random(seed)
    words = sorted(words)
    rng.shuffle(words)
    n_val = int(val_fraction * len(words))
    val = [w for w in words[:n_val] if w not in TEST_SENTENCE.split()]
    val_set = set(val)
    return [w for w in words if w not in val_set], val


def encode(text: str) -> list[int]:
    return [INDEX[c] for c in text]


def decode(ids) -> str:
    out = []
    for i in ids:
        if i == EOS_ID:
            break
        if SYMBOLS[i] not in (SOS, EOP):
            out.append(SYMBOLS[i])
    return "".join(out)


def batches(words: list[str], batch_size: int, rng: random.Random | None = None):
    """Yield (source [B, S], target [B, T]) int64 tensors: source = word + EOS, target = its Pig
    Latin + EOS, grouped by lengths. With rng the groups and their order are shuffled."""
    groups = defaultdict(list)
    for w in words:
        groups[(len(w), len(pig_latin_word(w)))].append(w)
    chunks = []
    for key in sorted(groups):
        group = groups[key]
        if rng is not None:
            rng.shuffle(group)
        chunks += [group[i : i + batch_size] for i in range(0, len(group), batch_size)]
    if rng is not None:
        rng.shuffle(chunks)
    for chunk in chunks:
        source = torch.tensor([encode(w) + [EOS_ID] for w in chunk])
        target = torch.tensor([encode(pig_latin_word(w)) + [EOS_ID] for w in chunk])
        yield source, target


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(WORDS_FILE))
    args = parser.parse_args()
    words = collect_words()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(words) + "\n")
    train, val = split_words(words)
    print(f"{len(words)} words ({len(train)} train, {len(val)} validation) written to {args.out}")
    print(f"{TEST_SENTENCE!r} -> {pig_latin(TEST_SENTENCE)!r}")


if __name__ == "__main__":
    main()
