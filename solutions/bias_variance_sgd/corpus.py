"""Problem 5's data: query/response pairs, the vocabulary and padded batches, as in the PyTorch
chatbot tutorial.

Two sources:
- the Cornell Movie-Dialogs Corpus, read from its own files (movie_lines.txt and
  movie_conversations.txt) when a folder holding them is given or sits at data/cornell/ here;
  nothing is downloaded;
- otherwise a small synthetic dialogue corpus generated here with a fixed seed: greetings, small
  talk with a fixed answer per question, facts about objects and echo requests ("say : red cat"),
  which a model can only answer by attending to the query's words.
"""

from __future__ import annotations

import codecs
import random
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import torch

PAD, SOS, EOS = 0, 1, 2
MAX_LENGTH = 10  # the tutorial's limit on sentence length (in words)
MIN_COUNT = 3  # the tutorial trims words seen fewer times (Cornell only)
CORNELL_DIR = Path(__file__).parent / "data" / "cornell"

# ---------------------------------------------------------------------------------------
# Normalising text (the tutorial's rules)
# ---------------------------------------------------------------------------------------


def unicode_to_ascii(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")


def normalize(s: str) -> str:
    """Lowercase ASCII words, with . ! ? split off as words of their own."""
    s = unicode_to_ascii(s.lower().strip())
    s = re.sub(r"([.!?])", r" \1", s)
    s = re.sub(r"[^a-zA-Z.!?]+", " ", s)
    return re.sub(r"\s+", " ", s).strip()


# ---------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------

GREETINGS = {"hello .": "hi there !", "hi .": "hello !", "good morning .": "good morning to you .",
             "good night .": "sleep well .", "bye .": "see you soon .", "thanks .": "you are welcome ."}
SMALL_TALK = {"how are you ?": "i am fine thank you .", "what is your name ?": "my name is bot .",
              "where do you live ?": "i live in the computer .", "how old are you ?": "i am very young .",
              "are you a robot ?": "yes i am a robot .", "do you like movies ?": "i love old movies .",
              "what time is it ?": "it is late .", "who made you ?": "a student made me ."}
OBJECTS = {"sky": "blue", "grass": "green", "sun": "yellow", "snow": "white", "coal": "black",
           "blood": "red", "sea": "blue", "cloud": "grey", "orange": "orange", "rose": "red"}
WORDS = ["cat", "dog", "red", "blue", "tree", "house", "car", "book", "music", "river", "moon", "star",
         "apple", "bread", "water", "fire"]


def synthetic_pairs(n: int = 3000, seed: int = 0) -> list[tuple[str, str]]:
    """n query/response pairs of the synthetic corpus (a fixed seed gives the same corpus)."""
    rng = random.Random(seed)
    fixed = list(GREETINGS.items()) + list(SMALL_TALK.items())
    pairs = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.3:
            pairs.append(rng.choice(fixed))
        elif kind < 0.55:
            thing = rng.choice(list(OBJECTS))
            pairs.append((f"what color is the {thing} ?", f"the {thing} is {OBJECTS[thing]} ."))
        elif kind < 0.75:
            thing = rng.choice(WORDS)
            pairs.append((f"do you like {thing} ?", f"yes i like {thing} ."))
        else:
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
            pairs.append((f"say {words} .", f"{words} ."))
    return pairs


def cornell_pairs(folder: Path) -> list[tuple[str, str]]:
    """Consecutive lines of each conversation, normalised (the tutorial's extraction)."""
    sep = " +++$+++ "
    lines = {}
    with codecs.open(folder / "movie_lines.txt", encoding="iso-8859-1") as f:
        for raw in f:
            fields = raw.rstrip("\n").split(sep)
            if len(fields) == 5:
                lines[fields[0]] = fields[4]
    pairs = []
    with codecs.open(folder / "movie_conversations.txt", encoding="iso-8859-1") as f:
        for raw in f:
            fields = raw.rstrip("\n").split(sep)
            ids = re.findall(r"L[0-9]+", fields[-1])
            for a, b in zip(ids, ids[1:]):
                if lines.get(a, "").strip() and lines.get(b, "").strip():
                    pairs.append((normalize(lines[a]), normalize(lines[b])))
    return pairs


# ---------------------------------------------------------------------------------------
# Vocabulary and batches
# ---------------------------------------------------------------------------------------


class Vocabulary:
    def __init__(self):
        self.word2index: dict[str, int] = {}
        self.word2count: dict[str, int] = {}
        self.index2word = {PAD: "PAD", SOS: "SOS", EOS: "EOS"}

    def __len__(self) -> int:
        return len(self.index2word)

    def add_sentence(self, sentence: str) -> None:
        for word in sentence.split(" "):
            if word not in self.word2index:
                self.word2index[word] = len(self.index2word)
                self.index2word[len(self.index2word)] = word
            self.word2count[word] = self.word2count.get(word, 0) + 1

    def encode(self, sentence: str) -> list[int]:
        return [self.word2index[w] for w in sentence.split(" ")] + [EOS]

    def decode(self, ids: list[int]) -> str:
        return " ".join(self.index2word[i] for i in ids if i not in (PAD, SOS, EOS))


def build(pairs: list[tuple[str, str]], min_count: int = 1) -> tuple[Vocabulary, list[tuple[str, str]]]:
    """The vocabulary of the pairs no longer than MAX_LENGTH words whose words occur min_count times."""
    pairs = [p for p in pairs if all(0 < len(s.split(" ")) < MAX_LENGTH for s in p)]
    counts = {}
    for s in (s for p in pairs for s in p):
        for w in s.split(" "):
            counts[w] = counts.get(w, 0) + 1
    pairs = [p for p in pairs if all(counts[w] >= min_count for s in p for w in s.split(" "))]
    vocabulary = Vocabulary()
    for query, response in pairs:
        vocabulary.add_sentence(query)
        vocabulary.add_sentence(response)
    return vocabulary, pairs


@dataclass
class Batch:
    inputs: torch.Tensor  # [T_in, B] int64, padded with PAD, sorted by length (longest first)
    lengths: torch.Tensor  # [B] int64 (on the CPU, as pack_padded_sequence wants)
    targets: torch.Tensor  # [T_out, B] int64
    mask: torch.Tensor  # [T_out, B] bool, False at padding


def make_batch(vocabulary: Vocabulary, pairs: list[tuple[str, str]]) -> Batch:
    pairs = sorted(pairs, key=lambda p: len(p[0].split(" ")), reverse=True)
    inputs = [vocabulary.encode(q) for q, _ in pairs]
    targets = [vocabulary.encode(r) for _, r in pairs]

    def pad(seqs):
        out = torch.full((max(map(len, seqs)), len(seqs)), PAD, dtype=torch.long)
        for b, s in enumerate(seqs):
            out[: len(s), b] = torch.tensor(s)
        return out

    padded_targets = pad(targets)
    mask = torch.zeros_like(padded_targets, dtype=torch.bool)
    for b, s in enumerate(targets):
        mask[: len(s), b] = True
    return Batch(pad(inputs), torch.tensor([len(s) for s in inputs]), padded_targets, mask)


def load(cornell: Path | None = None, seed: int = 0) -> tuple[Vocabulary, list[tuple[str, str]], str]:
    """(vocabulary, pairs, the corpus's name): Cornell when its files are here, else synthetic."""
    folder = cornell or CORNELL_DIR
    if (folder / "movie_lines.txt").is_file() and (folder / "movie_conversations.txt").is_file():
        vocabulary, pairs = build(cornell_pairs(folder), MIN_COUNT)
        return vocabulary, pairs, f"Cornell Movie-Dialogs ({folder})"
    vocabulary, pairs = build(synthetic_pairs(seed=seed))
    return vocabulary, pairs, "synthetic dialogues (corpus.synthetic_pairs)"
