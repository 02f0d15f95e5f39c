"""The grader's own computations for attention_scaling, in float64 from the weights it is given.

Nothing here is imported from the reference solution: the grader must stand on its own.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

VOWELS = set("aeiou")
PROJECTIONS = ("query", "key", "value")


def attention_names(prefix: str = "") -> list[str]:
    return [f"{prefix}{p}.{kind}" for p in PROJECTIONS for kind in ("weight", "bias")]


def random_attention_weights(hidden_size: int, seed: int, scale: float) -> dict[str, torch.Tensor]:
    """Weights under the contract's names, normal with standard deviation `scale`."""
    g = torch.Generator().manual_seed(seed)
    return {name: scale * torch.randn((hidden_size, hidden_size) if name.endswith("weight") else (hidden_size,), generator=g)
            for name in attention_names()}


def attention(state_dict, queries, keys, values, causal: bool = False):
    """(context [B, k, H], weights [B, k, S]) in float64; 2-D queries are one query each."""
    sd = {k: v.double() for k, v in state_dict.items()}
    if queries.dim() == 2:
        queries = queries[:, None]
    q = F.linear(queries.double(), sd["query.weight"], sd["query.bias"])
    k = F.linear(keys.double(), sd["key.weight"], sd["key.bias"])
    v = F.linear(values.double(), sd["value.weight"], sd["value.bias"])
    scores = q @ k.transpose(1, 2) / math.sqrt(q.size(-1))
    if causal:
        future = torch.ones(scores.shape[-2:], dtype=torch.bool).triu(1)
        scores = scores.masked_fill(future, -math.inf)
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


def positional_encodings(num_positions: int, hidden_size: int) -> torch.Tensor:
    """float64 [num_positions, hidden_size] sinusoids (hidden_size even)."""
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, hidden_size, 2, dtype=torch.float64)
    angles = pos / 10000 ** (two_i / hidden_size)
    pe = torch.empty(num_positions, hidden_size, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = angles.sin(), angles.cos()
    return pe


def training_tensors(src_EOP, tgt_EOS, start_token: int):
    start = torch.full((src_EOP.size(0), 1), start_token, dtype=torch.int64)
    return torch.cat([start, src_EOP, tgt_EOS[:, :-1]], 1), torch.cat([src_EOP, tgt_EOS], 1)


def decoder_names(config: dict) -> dict[str, tuple[int, ...]]:
    """Every decoder weight name of the contract and its shape."""
    V, H = config["vocab_size"], config["hidden_size"]
    shapes = {"embedding.weight": (V, H)}
    for i in range(config["num_layers"]):
        for name in attention_names(f"layers.{i}.attention."):
            shapes[name] = (H, H) if name.endswith("weight") else (H,)
        shapes[f"layers.{i}.mlp.weight"], shapes[f"layers.{i}.mlp.bias"] = (H, H), (H,)
    shapes["out.weight"], shapes["out.bias"] = (V, H), (V,)
    return shapes


def layer_attention_weights(state_dict: dict, layer: int) -> dict:
    prefix = f"layers.{layer}.attention."
    return {name.removeprefix(prefix): state_dict[name] for name in attention_names(prefix)}


def decoder(config: dict, state_dict: dict, tokens, encodings, attend):
    """(logits [B, T, V], weights [L, B, T, T]) in float64, composed from given parts:
    encodings [>= T, H] and attend(layer_weights, x) -> (context, weights). The grader passes the
    student's own positional encodings and causal attention, so this checks the composition
    (embedding, positions, residuals, MLP, output layer, stacking) and nothing else."""
    sd = {k: v.double() for k, v in state_dict.items()}
    x = sd["embedding.weight"][tokens] + encodings[: tokens.size(1)].double()
    all_weights = []
    for i in range(config["num_layers"]):
        context, weights = attend(layer_attention_weights(state_dict, i), x)
        x = x + context.double()
        x = x + F.relu(F.linear(x, sd[f"layers.{i}.mlp.weight"], sd[f"layers.{i}.mlp.bias"]))
        all_weights.append(weights.double())
    return F.linear(x, sd["out.weight"], sd["out.bias"]), torch.stack(all_weights)


def quadratic_fit(x, y):
    """numpy's quadratic in log10(x): [a, b, c]."""
    return np.polyfit(np.log10(np.asarray(x, dtype=np.float64)), np.asarray(y, dtype=np.float64), 2)


def linear_log_fit(x, y):
    return np.polyfit(np.log10(np.asarray(x, dtype=np.float64)), np.log10(np.asarray(y, dtype=np.float64)), 1)


def pig_latin_word(word: str) -> str:
    if word[0] in VOWELS:
        return word + "way"
    cluster = next(i for i, ch in enumerate(word) if ch in VOWELS)
    return word[cluster:] + word[:cluster] + "ay"


def bert_logits(config: dict, state_dict: dict, input_ids, attention_mask):
    """float64 logits of BertModel(config) with the student's weights, then their classifier on
    pooler_output."""
    from transformers import BertConfig, BertModel

    model = BertModel(BertConfig(**config)).double().eval()
    encoder = {k: v for k, v in state_dict.items() if not k.startswith("classifier.")}
    model.load_state_dict(encoder)  # the tests check the names first
    with torch.no_grad():
        pooled = model(input_ids=input_ids, attention_mask=attention_mask).pooler_output
    return F.linear(pooled, state_dict["classifier.weight"].double(), state_dict["classifier.bias"].double())
