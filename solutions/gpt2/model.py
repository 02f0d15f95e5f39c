"""GPT-2 small from scratch, with three options: rotary positions, grouped-query attention and a
causal sliding window. Each option is a field of GPTConfig and they combine freely.

    model = GPT(GPTConfig())                         # GPT-2 small: 124,439,808 parameters
    model = GPT(GPTConfig(rope=True, n_kv_head=4, window=256))

Shapes: B batch, T sequence, C n_embd, H n_head, K n_kv_head, D head_dim = C // H.

The module names follow Hugging Face's GPT-2 (wte, wpe, h.N.ln_1, attn.c_attn, attn.c_proj,
ln_2, mlp.c_fc, mlp.c_proj, ln_f), so a checkpoint maps onto them one to one; see hf.py for the
Conv1D weights, which are stored transposed.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    vocab_size: int = 50257
    block_size: int = 1024  # longest sequence; the size of the learned position table
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    n_kv_head: int | None = None  # grouped-query attention: key/value heads (None: n_head)
    rope: bool = False  # rotary position embeddings instead of the learned table
    rope_base: float = 10000.0
    window: int | None = None  # causal sliding window: query i sees keys i-window < j <= i
    layer_norm_eps: float = 1e-5

    def __post_init__(self):
        if self.n_kv_head is None:
            self.n_kv_head = self.n_head
        assert self.n_embd % self.n_head == 0, "n_embd must divide into n_head heads"
        assert self.n_head % self.n_kv_head == 0, "n_head must be a multiple of n_kv_head"
        assert not self.rope or self.head_dim % 2 == 0, "rotary embeddings need an even head_dim"
        assert self.window is None or self.window >= 1

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @classmethod
    def from_dict(cls, d: dict) -> "GPTConfig":
        """Accepts this class's field names and Hugging Face's GPT2Config names."""
        aliases = {"n_positions": "block_size", "layer_norm_epsilon": "layer_norm_eps"}
        names = {f.name for f in fields(cls)}
        kwargs = {aliases.get(k, k): v for k, v in d.items() if aliases.get(k, k) in names}
        return cls(**kwargs)


# ---------------------------------------------------------------------------------------
# Rotary position embeddings (Su et al., RoFormer)
# ---------------------------------------------------------------------------------------


def apply_rotary(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotate each head vector of x [..., T, D] by its position in positions [T].

    Dimension pair (i, i + D/2) turns by the angle position * base^(-2i/D): the half-split
    pairing of GPT-NeoX and Llama. (The RoFormer paper pairs adjacent dimensions (2i, 2i+1);
    both give scores that depend only on relative position.) The rotation is done in float32
    and cast back, so bf16 inputs keep their dtype.
    """
    d = x.size(-1)
    inv_freq = 1.0 / (base ** (torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d))
    angles = positions.to(torch.float32)[:, None] * inv_freq[None, :]  # [T, D/2]
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x.float().chunk(2, dim=-1)
    rotated = torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return rotated.to(x.dtype)


# ---------------------------------------------------------------------------------------
# KV cache
# ---------------------------------------------------------------------------------------


class KVCache:
    """Keys and values of past positions, per layer: keys[layer], values[layer] are [B, K, L, D]
    with K = n_kv_head and L = len(cache), the most recent positions in order.

    With a window only the last `window` positions are kept, so memory stays bounded however
    long generation runs. Keys are stored after rotation; with RoPE a key's angle depends only on
    its own position, so old keys stay valid.

    Speed: each layer's keys and values live in a buffer with room for more positions than it
    holds, and a step writes its new positions into that room in place. Concatenating instead
    (torch.cat([cached, new])) copies the whole cache at every step, O(L) per generated token, and
    was the largest cost of cached decoding after the matmuls. When the room runs out, the kept
    positions move to the front of new buffers: twice as large as needed without a window (so
    moves happen less and less often: amortised O(1) per token), 2 * window with one (bounded).
    """

    def __init__(self, config: GPTConfig):
        self.window = config.window
        self.key_buffers: list[torch.Tensor | None] = [None] * config.n_layer  # [B, K, capacity, D]
        self.value_buffers: list[torch.Tensor | None] = [None] * config.n_layer
        self.start = self.end = 0  # the cached positions sit in slots start..end-1 of every buffer
        self.next_position = 0  # absolute position of the next token; the cache holds the len(self) before it

    @property
    def keys(self) -> list[torch.Tensor | None]:
        return [None if b is None else b[:, :, self.start : self.end] for b in self.key_buffers]

    @property
    def values(self) -> list[torch.Tensor | None]:
        return [None if b is None else b[:, :, self.start : self.end] for b in self.value_buffers]

    def __len__(self) -> int:
        return self.end - self.start

    def extend(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        """Store this step's keys/values [B, K, T, D]; return what the step attends over (the cached
        positions, then the new ones) and the absolute positions of those keys."""
        T = k.size(2)
        if layer == 0 and (self.key_buffers[0] is None or self.end + T > self.key_buffers[0].size(2)):
            self._move_to_new_buffers(k, T)  # the first layer opens the step, for every layer at once
        self.key_buffers[layer][:, :, self.end : self.end + T] = k
        self.value_buffers[layer][:, :, self.end : self.end + T] = v
        k = self.key_buffers[layer][:, :, self.start : self.end + T]  # views: nothing is copied
        v = self.value_buffers[layer][:, :, self.start : self.end + T]
        positions = torch.arange(self.next_position - len(self), self.next_position + T, device=k.device)
        if layer == len(self.key_buffers) - 1:  # the last layer closes the step
            held = len(self) + T
            keep = held if self.window is None else min(self.window, held)
            self.start, self.end = self.end + T - keep, self.end + T
            self.next_position += T
        return k, v, positions

    def _move_to_new_buffers(self, k: torch.Tensor, T: int) -> None:
        n = len(self)
        needed = n + T
        capacity = 2 * needed if self.window is None else max(needed, 2 * self.window)
        for buffers in (self.key_buffers, self.value_buffers):
            for layer, old in enumerate(buffers):
                new = k.new_empty(k.size(0), k.size(1), capacity, k.size(3))
                if n:
                    new[:, :, :n] = old[:, :, self.start : self.end]
                buffers[layer] = new
        self.start, self.end = 0, n


# ---------------------------------------------------------------------------------------
# Linear layers: oneDNN's matmul for inference on CPU
# ---------------------------------------------------------------------------------------

USE_ONEDNN = True  # set to False to compute every Linear with PyTorch's default matmul


class Linear(nn.Linear):
    """nn.Linear (same weights, same state dict) whose forward, when nothing needs gradients on a
    CPU in float32, runs on oneDNN's matmul instead of PyTorch's default.

    Why: at float32 on CPU, nn.Linear calls MKL's sgemm (as Hugging Face's Conv1D does). On the
    AMD EPYC of BENCHMARKS.md, oneDNN's kernels were 10-25% faster on the blocks' shapes and about
    35% faster on lm_head's [768 -> 50257], which alone is a third of GPT-2 small's forward FLOPs.
    It is the same float32 arithmetic (no bf16/tf32), summed in another order, so results differ
    in the last bits (~1e-6), as they do between any two BLAS libraries. The op has no backward,
    so training, autocast and other devices keep nn.Linear's path.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            USE_ONEDNN
            and not torch.is_grad_enabled()
            and x.device.type == "cpu"
            and x.dtype == self.weight.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu")
            and type(self.weight) is nn.Parameter  # plain weights, not a DTensor or FSDP's
            and onednn_available()
        ):
            return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")
        return super().forward(x)


@functools.cache
def onednn_available() -> bool:
    """Whether this PyTorch build has oneDNN's linear op (and it agrees with F.linear)."""
    try:
        x, w = torch.randn(3, 8), torch.randn(5, 8)
        return torch.allclose(torch.ops.mkldnn._linear_pointwise(x, w, None, "none", [], ""), F.linear(x, w), atol=1e-5)
    except (AttributeError, RuntimeError):
        return False


# ---------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig, layer: int):
        super().__init__()
        self.config = config
        self.layer = layer
        h, k, d = config.n_head, config.n_kv_head, config.head_dim
        # One projection for queries (H heads), keys and values (K heads each).
        self.c_attn = Linear(config.n_embd, (h + 2 * k) * d)
        self.c_proj = Linear(config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        cfg = self.config
        B, T, C = x.shape
        H, K, D = cfg.n_head, cfg.n_kv_head, cfg.head_dim
        q, k, v = self.c_attn(x).split([H * D, K * D, K * D], dim=2)
        q = q.view(B, T, H, D).transpose(1, 2)  # [B, H, T, D]
        k = k.view(B, T, K, D).transpose(1, 2)  # [B, K, T, D]
        v = v.view(B, T, K, D).transpose(1, 2)
        if cfg.rope:  # positions enter through queries and keys only, never values
            q = apply_rotary(q, positions, cfg.rope_base)
            k = apply_rotary(k, positions, cfg.rope_base)
        key_positions = positions
        if cache is not None:
            k, v, key_positions = cache.extend(self.layer, k, v)
        if K != H:  # grouped-query attention: query head h reads key/value head h // (H / K)
            k = k.repeat_interleave(H // K, dim=1)
            v = v.repeat_interleave(H // K, dim=1)
        if cfg.window is None and key_positions.numel() == T:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        elif cfg.window is None and T == 1:
            # One new token after the cached ones: it sees every key, so there is nothing to mask.
            # (Building a [1, L] mask per layer per step costs more than the attention itself.)
            y = F.scaled_dot_product_attention(q, k, v)
        else:
            mask = attention_mask(positions, key_positions, cfg.window)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


def attention_mask(query_positions: torch.Tensor, key_positions: torch.Tensor, window: int | None) -> torch.Tensor:
    """Boolean [Tq, Tk]: True where query i may attend to key j (j <= i, and i - j < window)."""
    distance = query_positions[:, None] - key_positions[None, :]
    allowed = distance >= 0
    if window is not None:
        allowed &= distance < window
    return allowed


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = Linear(config.n_embd, 4 * config.n_embd)
        self.c_proj = Linear(4 * config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))  # GPT-2 uses the tanh GELU


class Block(nn.Module):
    def __init__(self, config: GPTConfig, layer: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.attn = CausalSelfAttention(config, layer)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x, positions, cache=None):
        x = x + self.attn(self.ln_1(x), positions, cache)  # pre-LayerNorm residual blocks
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = None if config.rope else nn.Embedding(config.block_size, config.n_embd)
        self.h = nn.ModuleList(Block(config, i) for i in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.lm_head = Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied: the output layer reuses the token embedding
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        # GPT-2's initialisation (N(0, 0.02), zero biases); checkpoints overwrite it anyway.
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())  # the tied matrix counts once

    def new_cache(self) -> KVCache:
        return KVCache(self.config)

    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None, last_only: bool = False) -> torch.Tensor:
        """tokens [B, T] -> logits [B, T, vocab] (or [B, 1, vocab] with last_only)."""
        B, T = tokens.shape
        start = 0 if cache is None else cache.next_position
        positions = torch.arange(start, start + T, device=tokens.device)
        if self.wpe is not None and start + T > self.config.block_size:
            raise ValueError(f"sequence of {start + T} tokens is longer than block_size {self.config.block_size}")
        x = self.wte(tokens)
        if self.wpe is not None:
            x = x + self.wpe(positions)
        for block in self.h:
            x = block(x, positions, cache)
        x = self.ln_f(x)
        if last_only:
            x = x[:, -1:, :]  # generation needs only the next token's distribution
        return self.lm_head(x)
