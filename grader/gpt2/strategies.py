"""Hypothesis strategies for small GPT-2 configs and inputs."""

import torch
from hypothesis import strategies as st

from .reference import config_dict


@st.composite
def small_configs(draw, rope=False, gqa=False, window=False, n_layer=(1, 2)):
    """A small config; rope/gqa/window: False (off), True (on) or None (either)."""
    n_head = draw(st.sampled_from([1, 2, 4]))
    head_dim = draw(st.sampled_from([4, 8]))
    use_gqa = draw(st.booleans()) if gqa is None else gqa
    n_kv_head = draw(st.sampled_from([d for d in range(1, n_head + 1) if n_head % d == 0])) if use_gqa else n_head
    use_window = draw(st.booleans()) if window is None else window
    return config_dict(
        vocab_size=draw(st.integers(20, 300)),
        n_positions=32,
        n_embd=n_head * head_dim,
        n_layer=draw(st.integers(*n_layer)),
        n_head=n_head,
        n_kv_head=n_kv_head,
        rope=draw(st.booleans()) if rope is None else rope,
        window=draw(st.integers(1, 8)) if use_window else None,
    )


def random_tokens(config: dict, batch: int, length: int, seed: int) -> torch.Tensor:
    return torch.randint(0, config["vocab_size"], (batch, length), generator=torch.Generator().manual_seed(seed))


def random_hidden(config: dict, batch: int, length: int, seed: int) -> torch.Tensor:
    return torch.randn(batch, length, config["n_embd"], generator=torch.Generator().manual_seed(seed))


def describe(config: dict) -> str:
    """A short description of a config for failure messages."""
    parts = [f"n_layer={config['n_layer']}", f"n_head={config['n_head']}", f"n_embd={config['n_embd']}"]
    if config["n_kv_head"] != config["n_head"]:
        parts.append(f"n_kv_head={config['n_kv_head']}")
    if config["rope"]:
        parts.append("rope")
    if config["window"] is not None:
        parts.append(f"window={config['window']}")
    return "config(" + ", ".join(parts) + ")"
