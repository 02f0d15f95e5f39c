"""Text generation with the KV cache: greedy, or sampled with temperature and top-k."""

from __future__ import annotations

import torch

from .model import GPT


def next_token(logits: torch.Tensor, greedy: bool, temperature: float, top_k: int | None, generator) -> torch.Tensor:
    """Pick one token per row from logits [B, vocab]."""
    if greedy or temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)


@torch.inference_mode()
def generate(
    model: GPT,
    tokens: torch.Tensor,
    max_new_tokens: int,
    greedy: bool = True,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    use_cache: bool = True,
) -> torch.Tensor:
    """Continue tokens [B, T] by max_new_tokens; returns [B, T + max_new_tokens].

    With the cache each step feeds only the newest token; without it each step reruns the whole
    (cropped) sequence. Both give the same tokens; the cache makes a step cost O(T) instead of O(T^2).
    """
    generator = None
    if seed is not None:
        generator = torch.Generator(device=tokens.device).manual_seed(seed)
    cache = model.new_cache() if use_cache else None
    out = tokens
    logits = model(tokens, cache=cache, last_only=True)
    for step in range(max_new_tokens):
        token = next_token(logits[:, -1], greedy, temperature, top_k, generator)
        out = torch.cat([out, token[:, None]], dim=1)
        if step == max_new_tokens - 1:
            break
        if use_cache:
            logits = model(token[:, None], cache=cache, last_only=True)
        else:
            context = out if model.wpe is None else out[:, -model.config.block_size :]
            logits = model(context, last_only=True)
    return out
