"""Part 2.1: scaled dot-product attention, its causal variant, and sinusoidal positional encodings.

The two attention classes are written out separately, as the handout presents them: the causal one
differs only by the mask applied to the scores before the softmax.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

MASKED_SCORE = -1e7  # the handout's "large negative value": exp(-1e7 - max) is exactly 0 in float32


class ScaledDotAttention(nn.Module):
    """softmax((W_q q)(W_k k)^T / sqrt(hidden_size)) (W_v v), one softmax per query over the keys."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.scaling_factor = 1.0 / math.sqrt(hidden_size)

    def forward(self, queries, keys, values):
        """queries [B, H] (one decoder step) or [B, k, H]; keys, values [B, S, H].
        Returns (context [B, k, H], attention_weights [B, k, S]); k = 1 for 2-D queries."""
        if queries.dim() == 2:
            queries = queries.unsqueeze(1)
        q, k, v = self.query(queries), self.key(keys), self.value(values)
        scores = torch.bmm(q, k.transpose(1, 2)) * self.scaling_factor  # [B, k, S]
        attention_weights = F.softmax(scores, dim=-1)  # over the keys
        context = torch.bmm(attention_weights, v)  # [B, k, H]
        return context, attention_weights


class CausalScaledDotAttention(nn.Module):
    """Self-attention in which query position i sees only key positions j <= i."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.scaling_factor = 1.0 / math.sqrt(hidden_size)

    def forward(self, queries, keys, values):
        """queries [B, H] or [B, k, H]; keys, values [B, S, H] (self-attention: k = S).
        Returns (context [B, k, H], attention_weights [B, k, S])."""
        if queries.dim() == 2:
            queries = queries.unsqueeze(1)
        q, k, v = self.query(queries), self.key(keys), self.value(values)
        scores = torch.bmm(q, k.transpose(1, 2)) * self.scaling_factor  # [B, S, S]
        # Built for this call's lengths, so any sequence length works.
        future = torch.ones(scores.shape[-2:], dtype=torch.bool, device=scores.device).triu(diagonal=1)
        scores = scores.masked_fill(future, MASKED_SCORE)
        attention_weights = F.softmax(scores, dim=-1)  # over the keys, masked ones get 0
        context = torch.bmm(attention_weights, v)
        return context, attention_weights


def positional_encodings(num_positions: int, hidden_size: int) -> torch.Tensor:
    """[num_positions, hidden_size]: PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(same)."""
    positions = torch.arange(num_positions, dtype=torch.float64)[:, None]
    even = torch.arange(0, hidden_size, 2, dtype=torch.float64)  # the 2i of each sin/cos pair
    angles = positions / 10000 ** (even / hidden_size)  # [num_positions, ceil(d/2)]
    encodings = torch.zeros(num_positions, hidden_size, dtype=torch.float64)
    encodings[:, 0::2] = torch.sin(angles)
    encodings[:, 1::2] = torch.cos(angles[:, : hidden_size // 2])
    return encodings.float()
