"""A small decoder-only transformer in the manner of nanoGPT, with attention masking of pad tokens.

    model = Transformer(ModelConfig(n_layer=2, d_model=128))     # ~0.4M parameters
    logits = model(tokens, attention_mask)                        # [B, T, vocab_size]
    logits = model(tokens, last_only=True)                        # [B, 1, vocab_size]

Shapes: B batch, T sequence, C d_model, H n_head, D head_dim = C // H.

What differs from nanoGPT:
- attention_mask [B, T] (True at real tokens): pad tokens are never attended to, and positions
  count real tokens only, so padding on either side changes nothing at the real positions
  (see padded_attention below);
- last_only: the loss of an equation "a/b=c" needs only the prediction at "=", the last input
  position. The last block then computes its query, MLP, final LayerNorm and output layer for
  that one position (keys and values still come from every position): about a quarter of the
  last block's work and of the output layer's. Results are the same as the full forward's last
  position, up to float rounding;
- the output layer is not tied to the token embedding (the inputs and outputs of modular
  arithmetic play different roles, and the reference runs of grokking papers use untied heads);
- embeddings start at N(0, embedding_std = 1), PyTorch's default, not GPT-2's N(0, 0.02)
  (why: see Transformer.__init__).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from .tokenizer import VOCAB_SIZE


@dataclass
class ModelConfig:
    vocab_size: int = VOCAB_SIZE
    n_layer: int = 2
    n_head: int = 4
    d_model: int = 128
    d_ff: int = 512  # hidden width of the MLP
    max_len: int = 8  # longest sequence: the size of the learned position table
    dropout: float = 0.0
    embedding_std: float = 1.0  # init scale of the token and position embeddings (see _init_weights)

    def __post_init__(self):
        assert self.d_model % self.n_head == 0, "d_model must divide into n_head heads"

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """The fields of this class from d; other keys (a training config's) are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def padded_attention(attention_mask: torch.Tensor) -> torch.Tensor:
    """attention_mask [B, T] (True = real token) -> boolean [B, 1, T, T]: may query i see key j?

    Causal (j <= i) and j a real token. A pad query would then see no key at all in a left-padded
    sequence, and softmax over an empty row is NaN (0/0) that spreads into every later layer's
    sums; so every query also sees itself. That keeps pad rows finite and adds nothing to real
    rows (a real query's own key is real).
    """
    T = attention_mask.size(1)
    causal = torch.ones(T, T, dtype=torch.bool, device=attention_mask.device).tril()
    diagonal = torch.eye(T, dtype=torch.bool, device=attention_mask.device)
    allowed = (causal & attention_mask[:, None, :]) | diagonal  # [B, T, T]
    return allowed[:, None]


def real_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """[B, T] position ids counting real tokens only: a left-padded token gets the position it has
    without the padding (its first real token is 0); pad positions get whatever is near (ignored)."""
    return (attention_mask.long().cumsum(dim=1) - 1).clamp(min=0)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, last_only: bool = False) -> torch.Tensor:
        """x [B, T, C]; mask None (no padding: plain causal) or [B, 1, T, T] from padded_attention.
        last_only: only the last position's query, so the output is [B, 1, C]."""
        B, T, C = x.shape
        H = self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)
        if last_only:
            q = q[:, -1:]
        q = q.view(B, q.size(1), H, C // H).transpose(1, 2)  # [B, H, Tq, D]
        k = k.view(B, T, H, C // H).transpose(1, 2)  # [B, H, T, D]
        v = v.view(B, T, H, C // H).transpose(1, 2)
        dropout = self.dropout if self.training else 0.0
        if mask is not None:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, :, -q.size(2) :], dropout_p=dropout)
        else:
            # The last query sees every key, so it needs no mask. (is_causal with one query would
            # align it with key 0, SDPA's top-left convention: wrong here.)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=not last_only, dropout_p=dropout)
        y = y.transpose(1, 2).reshape(B, q.size(2), C)
        return self.proj(y)


class MLP(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.fc = nn.Linear(config.d_model, config.d_ff)
        self.proj = nn.Linear(config.d_ff, config.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.d_model)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.d_model)
        self.mlp = MLP(config)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, last_only: bool = False) -> torch.Tensor:
        attended = self.attn(self.ln_1(x), mask, last_only)  # pre-LayerNorm residual blocks
        if last_only:
            x = x[:, -1:]
        x = x + self.drop(attended)
        return x + self.drop(self.mlp(self.ln_2(x)))


class Transformer(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.position_embedding = nn.Embedding(config.max_len, config.d_model)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.apply(self._init_weights)
        # Embeddings start at N(0, embedding_std), PyTorch's default of 1 rather than GPT-2's 0.02.
        # On modular arithmetic, 0.02 left the model at the uniform prediction (loss log p) for
        # hundreds of steps, since every input looks alike; at 1 it memorises the train split
        # within ~300 steps, and weight decay then shrinks it towards the generalising solution.
        nn.init.normal_(self.token_embedding.weight, std=config.embedding_std)
        nn.init.normal_(self.position_embedding.weight, std=config.embedding_std)
        # GPT-2's scaling of the layers that write into the residual stream: 2 per block add up.
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(
        self, tokens: torch.Tensor, attention_mask: torch.Tensor | None = None, last_only: bool = False
    ) -> torch.Tensor:
        """tokens [B, T] -> logits [B, T, vocab_size] ([B, 1, vocab_size] with last_only: the
        prediction after the last position). attention_mask [B, T], True at real tokens; None
        means no padding. Logits at pad positions are meaningless."""
        B, T = tokens.shape
        if attention_mask is None or bool(attention_mask.all()):
            mask, positions = None, torch.arange(T, device=tokens.device)[None, :]
        else:
            attention_mask = attention_mask.to(device=tokens.device, dtype=torch.bool)
            mask, positions = padded_attention(attention_mask), real_positions(attention_mask)
        # Real tokens must fit the position table; right padding may run past it.
        if int(positions.max()) >= self.config.max_len:
            raise ValueError(f"a sequence has more than max_len = {self.config.max_len} real tokens")
        x = self.drop(self.token_embedding(tokens) + self.position_embedding(positions))
        for i, block in enumerate(self.blocks):
            x = block(x, mask, last_only=last_only and i == len(self.blocks) - 1)
        if last_only and not self.blocks:
            x = x[:, -1:]
        return self.lm_head(self.ln_f(x))
