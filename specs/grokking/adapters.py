"""Adapter contract for the transformers-and-grokking assignment.

Copy this file to SUBMISSION/grokking/adapters.py and make each function call your own code,
which may live in any modules under SUBMISSION/grokking/ (import them relatively:
`from .model import Transformer`). The grader calls these functions in a sandbox and checks what
they return. Every function is self-contained: build what you need from the arguments; nothing
carries over between calls. Files the grader asks for (checkpoints) are named relative to your
SUBMISSION/grokking/ folder, which is the working directory during grading.

Conventions
-----------
Equations are over the residues modulo a prime p: 0 <= a < p and 0 <= b < p (the handout's
"0 <= a, b <= p" counts p, which is the residue 0 again). The three operations:
    "+"  c = (a + b) mod p
    "-"  c = (a - b) mod p
    "/"  c = a * b^(p-2) mod p, that is a times the modular inverse of b (b = 0 excluded)
An equation is the triple (a, b, c) of ints; as text it reads "a+b=c", "a-b=c" or "a/b=c"
(decimal numbers, no spaces).

config: a dict describing a decoder-only transformer, with these keys (map them to your own):
    vocab_size   number of token ids
    n_layer      transformer blocks
    n_head       attention heads
    d_model      embedding width
    d_ff         hidden width of the feed-forward layer
    max_len      the longest sequence (size of the position table, if you use one)
A model "built from config with seed" means: torch.manual_seed(seed), then construct it; the
same config and seed must give the same weights in every call.

tokens: torch.int64 tensor [B, T] of token ids. Logits: torch.float32 tensor [B, T, vocab_size],
where logits[:, t] predicts the token at position t + 1 (causal: position t sees tokens <= t).

attention_mask: torch.bool tensor [B, T], True at real tokens and False at padding. Padding may
sit on either side of a sequence. A real token's logits must not depend on the padding in any way
(what ids the pad positions hold, or how many there are on the right).

loss_mask: torch.bool tensor [B, T], True where the prediction at position t (of token t + 1)
counts towards the loss. The loss is the mean cross-entropy over the positions where loss_mask is
True: the sum over those positions divided by their count.
"""

import torch

# ---------------------------------------------------------------------------------------
# Part 2.1: data and tokenizer
# ---------------------------------------------------------------------------------------


def equations(operation: str, p: int) -> list[tuple[int, int, int]]:
    """Every equation (a, b, c) of `operation` ("+", "-" or "/") modulo the prime p, each once,
    in any order. p * p equations for "+" and "-", p * (p - 1) for "/"."""
    raise NotImplementedError


def splits(operation: str, p: int, seed: int, train_fraction: float) -> dict[str, list[tuple[int, int, int]]]:
    """Your train / validation / test split of equations(operation, p).

    Returns {"train": [...], "val": [...], "test": [...]}, lists of (a, b, c): disjoint, together
    exactly the equations of the operation, about train_fraction of them in "train", and the
    rest divided between "val" and "test" as your split does it ("val" may be empty if you tune on
    a part of train instead; "test" must not be). The same arguments must give the same split in
    every call and every process."""
    raise NotImplementedError


def encode(text: str) -> list[int]:
    """Token ids of a text: equations such as "12/5=41" and the sanity string "I love machine
    learning". Any tokenization (characters, or whole numbers as tokens) is fine."""
    raise NotImplementedError


def decode(ids: list[int]) -> str:
    """The text of token ids: decode(encode(text)) == text."""
    raise NotImplementedError


# ---------------------------------------------------------------------------------------
# Part 1: the model, the masked loss and padding
# ---------------------------------------------------------------------------------------


def forward(config: dict, seed: int, tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Logits [B, T, vocab_size] of your model built from config with seed (in eval mode: no
    dropout), on tokens [B, T] with attention_mask [B, T] (True at real tokens).

    The grader compares padded and unpadded versions of the same sequences: logits at real
    positions must agree, whatever the pad positions hold. Logits at pad positions are ignored."""
    raise NotImplementedError


def masked_loss(logits: torch.Tensor, targets: torch.Tensor, loss_mask: torch.Tensor) -> tuple[float, torch.Tensor]:
    """Your training loss on given logits [B, T, V], targets [B, T] (int64) and loss_mask [B, T].

    Returns (loss, gradient): the loss as a float and its gradient with respect to the logits,
    [B, T, V], computed by your loss code with autograd, for example:
        logits = logits.clone().requires_grad_(True)
        loss = my_loss(logits, targets, loss_mask)
        loss.backward()
        return loss.item(), logits.grad
    """
    raise NotImplementedError


# ---------------------------------------------------------------------------------------
# Part 1.5: sanity checks, reproducibility, checkpoints
# ---------------------------------------------------------------------------------------


def memorize(text: str, masked_prefix: int, max_steps: int, seed: int) -> dict:
    """Train a one-layer model of your choice on the single sequence encode(text), with your
    training loop, for at most max_steps optimizer steps, the loss masked on the predictions at
    positions 0 .. masked_prefix - 1 (the predictions of tokens 1 .. masked_prefix; 0: nothing
    masked). Returns:
        "losses"           the training loss at each step (a list of floats, at most max_steps)
        "position_losses"  after training, the cross-entropy of the prediction at each position
                           0 .. len(encode(text)) - 2, masked or not (a list of floats)
        "sample"           greedy generation from the first token of text until the sequence is as
                           long as encode(text), decoded (a str)
    """
    raise NotImplementedError


def first_losses(operation: str, p: int, seed: int, steps: int) -> list[float]:
    """The training losses of the first `steps` optimizer steps of your training run on
    `operation` modulo p (your own model and hyperparameters, all randomness seeded by seed)."""
    raise NotImplementedError


def checkpoint_round_trip(config: dict, seed: int, folder: str, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Build a model from config with seed, train it for a few steps of your choice on anything,
    save a checkpoint into folder (an empty, writable directory) with your own saving code, load
    it into a newly built model with your own loading code (built with a different seed), and
    return (logits of the trained model, logits of the loaded model) on tokens [B, T] with no
    padding. They must be equal."""
    raise NotImplementedError


# ---------------------------------------------------------------------------------------
# Parts 2.2 and 2.3: your trained checkpoints
# ---------------------------------------------------------------------------------------


def trained_checkpoints() -> dict[str, dict]:
    """The checkpoints you submit, by deliverable:

        {"warmup": {"path": ..., "operation": "+" or "-", "p": 97 or 113, "seed": ..., "train_fraction": ...},
         "grokking": {"path": ..., "operation": "/", "p": 97, "seed": ..., "train_fraction": ...}}

    path: the checkpoint file or folder, relative to your SUBMISSION/grokking/ folder. seed and
    train_fraction: the arguments of splits() that gave the split the model was trained on; the
    grader regenerates that split with your splits() and measures accuracy on its test part
    itself (equations that also appear in train do not count)."""
    raise NotImplementedError


def predict(path: str, operation: str, p: int, pairs: list[tuple[int, int]]) -> list[int]:
    """The answers c your checkpoint at path gives for the left-hand sides (a, b) of `operation`
    modulo p, by greedy decoding or an argmax over your answer tokens: one int per pair."""
    raise NotImplementedError
