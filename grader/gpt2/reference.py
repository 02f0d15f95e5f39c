"""The grader's own reference for GPT-2: random weights in the checkpoint layout, and a float64
attention written out step by step, independent of the reference solution it checks.

Hugging Face's GPT2LMHeadModel is the reference for everything it implements (task 1); this
module covers what it does not (rotary embeddings in both pairings, grouped-query attention, the
sliding window).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch


def config_dict(
    vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, n_kv_head=None,
    rope=False, rope_base=10000.0, window=None, layer_norm_epsilon=1e-5,
) -> dict:
    """A config in the adapter contract's format (GPT-2 small by default)."""
    return {
        "vocab_size": vocab_size, "n_positions": n_positions, "n_embd": n_embd, "n_layer": n_layer,
        "n_head": n_head, "n_kv_head": n_head if n_kv_head is None else n_kv_head, "rope": rope,
        "rope_base": rope_base, "window": window, "layer_norm_epsilon": layer_norm_epsilon,
    }


def hf_model(config: dict, seed: int, std: float = 0.02):
    """A seeded random-init transformers.GPT2LMHeadModel for a baseline config (eval mode)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    assert not config["rope"] and config["n_kv_head"] == config["n_head"] and config["window"] is None
    hf_config = GPT2Config(
        vocab_size=config["vocab_size"], n_positions=config["n_positions"], n_embd=config["n_embd"],
        n_layer=config["n_layer"], n_head=config["n_head"], layer_norm_epsilon=config["layer_norm_epsilon"],
        initializer_range=std, bos_token_id=None, eos_token_id=None, pad_token_id=None,
    )
    with _no_init_weights():  # Hugging Face's own init of 124M parameters is slow; fill them below instead
        model = GPT2LMHeadModel(hf_config).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # weights N(0, std); biases and LayerNorm random too, so no bug hides behind 0s and 1s
        for name, p in model.named_parameters():
            mean = 1.0 if "ln_" in name and name.endswith(".weight") else 0.0  # LayerNorm gains near 1
            p.copy_(torch.randn(p.shape, generator=g) * std + mean)
        model.tie_weights()
    return model


def _no_init_weights():
    try:
        from transformers.initialization import no_init_weights  # transformers 5
    except ImportError:  # pragma: no cover - transformers 4
        from transformers.modeling_utils import no_init_weights
    return no_init_weights()


def hf_generate(model, prompt: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """Hugging Face's greedy generation, never stopping early (no end-of-text token)."""
    with torch.inference_mode():
        return model.generate(
            prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens,
            do_sample=False, eos_token_id=None, pad_token_id=0,
        )


def hf_state_dict(model) -> dict[str, torch.Tensor]:
    """The model's weights as a checkpoint stores them (tied lm_head and mask buffers left out)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k != "lm_head.weight" and not k.endswith(".attn.bias")}


def random_state_dict(config: dict, seed: int, std: float = 0.02) -> dict[str, torch.Tensor]:
    """Random weights in the checkpoint layout for any config, options included (Conv1D: [in, out])."""
    g = torch.Generator().manual_seed(seed)
    C, V, H, K = config["n_embd"], config["vocab_size"], config["n_head"], config["n_kv_head"]
    D = C // H
    qkv = (H + 2 * K) * D

    def randn(*shape, mean=0.0):
        return torch.randn(*shape, generator=g) * std + mean

    state = {"transformer.wte.weight": randn(V, C)}
    if not config["rope"]:
        state["transformer.wpe.weight"] = randn(config["n_positions"], C)
    for i in range(config["n_layer"]):
        p = f"transformer.h.{i}."
        state.update({
            p + "ln_1.weight": randn(C, mean=1.0), p + "ln_1.bias": randn(C),
            p + "attn.c_attn.weight": randn(C, qkv), p + "attn.c_attn.bias": randn(qkv),
            p + "attn.c_proj.weight": randn(C, C), p + "attn.c_proj.bias": randn(C),
            p + "ln_2.weight": randn(C, mean=1.0), p + "ln_2.bias": randn(C),
            p + "mlp.c_fc.weight": randn(C, 4 * C), p + "mlp.c_fc.bias": randn(4 * C),
            p + "mlp.c_proj.weight": randn(4 * C, C), p + "mlp.c_proj.bias": randn(C),
        })
    state["transformer.ln_f.weight"] = randn(C, mean=1.0)
    state["transformer.ln_f.bias"] = randn(C)
    return state


def parameter_count(config: dict) -> int:
    """Parameters of GPT-2 with config's options, counted from the layout above (lm_head tied)."""
    C, V, H, K = config["n_embd"], config["vocab_size"], config["n_head"], config["n_kv_head"]
    qkv = (H + 2 * K) * (C // H)
    per_layer = 2 * C + (C * qkv + qkv) + (C * C + C) + 2 * C + (C * 4 * C + 4 * C) + (4 * C * C + C)
    positions = 0 if config["rope"] else config["n_positions"] * C
    return V * C + positions + config["n_layer"] * per_layer + 2 * C


def attention_weights(config: dict, seed: int, std: float = 0.3) -> dict[str, torch.Tensor]:
    """Random weights for one attention layer, in nn.Linear layout ([out, in])."""
    g = torch.Generator().manual_seed(seed)
    C, H, K = config["n_embd"], config["n_head"], config["n_kv_head"]
    qkv = (H + 2 * K) * (C // H)
    return {
        "c_attn.weight": torch.randn(qkv, C, generator=g) * std,
        "c_attn.bias": torch.randn(qkv, generator=g) * std,
        "c_proj.weight": torch.randn(C, C, generator=g) * std,
        "c_proj.bias": torch.randn(C, generator=g) * std,
    }


# ---------------------------------------------------------------------------------------
# Rotary embeddings in both pairings, and attention, in float64
# ---------------------------------------------------------------------------------------

PAIRINGS = ("half-split", "interleaved")


def rotary(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0, pairing: str = "half-split") -> torch.Tensor:
    """Rotate x [..., T, D] (float64). Pair i turns by position * base^(-2i/D).

    half-split pairs dimension i with i + D/2 (GPT-NeoX, Llama); interleaved pairs 2i with 2i+1
    (the RoFormer paper).
    """
    x = x.to(torch.float64)
    D = x.size(-1)
    freq = base ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    angle = positions.to(torch.float64)[:, None] * freq[None, :]
    cos, sin = angle.cos(), angle.sin()
    if pairing == "half-split":
        a, b = x[..., : D // 2], x[..., D // 2 :]
        return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)
    a, b = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def attention(config: dict, weights: dict, x: torch.Tensor, pairing: str = "half-split") -> torch.Tensor:
    """Causal self-attention with config's options, in float64, written out step by step."""
    x = x.to(torch.float64)
    w = {k: v.to(torch.float64) for k, v in weights.items()}
    B, T, C = x.shape
    H, K = config["n_head"], config["n_kv_head"]
    D = C // H
    qkv = x @ w["c_attn.weight"].T + w["c_attn.bias"]
    q = qkv[..., : H * D].reshape(B, T, H, D).transpose(1, 2)
    k = qkv[..., H * D : (H + K) * D].reshape(B, T, K, D).transpose(1, 2)
    v = qkv[..., (H + K) * D :].reshape(B, T, K, D).transpose(1, 2)
    positions = torch.arange(T)
    if config["rope"]:
        q = rotary(q, positions, config["rope_base"], pairing)
        k = rotary(k, positions, config["rope_base"], pairing)
    group = H // K
    k = k[:, torch.arange(H) // group]  # query head h reads key/value head h // group
    v = v[:, torch.arange(H) // group]
    scores = q @ k.transpose(-1, -2) / math.sqrt(D)
    i, j = positions[:, None], positions[None, :]
    allowed = j <= i
    if config["window"] is not None:
        allowed &= (i - j) < config["window"]
    scores = scores.masked_fill(~allowed, float("-inf"))
    y = torch.softmax(scores, dim=-1) @ v
    y = y.transpose(1, 2).reshape(B, T, C)
    return y @ w["c_proj.weight"].T + w["c_proj.bias"]


# ---------------------------------------------------------------------------------------
# Real GPT-2 weights, where a machine has them
# ---------------------------------------------------------------------------------------


def find_real_gpt2() -> tuple[Path | None, str]:
    """(folder with config.json and weights, "") or (None, why not): GPT2_WEIGHTS_DIR, then the HF cache."""
    env = os.environ.get("GPT2_WEIGHTS_DIR")
    candidates = [Path(env)] if env else []
    hub = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"
    for repo in ("models--openai-community--gpt2", "models--gpt2"):
        candidates += sorted((hub / repo / "snapshots").glob("*"))
    for folder in candidates:
        if (folder / "config.json").is_file() and ((folder / "model.safetensors").is_file() or (folder / "pytorch_model.bin").is_file()):
            return folder, ""
    where = f"GPT2_WEIGHTS_DIR={env}" if env else "GPT2_WEIGHTS_DIR is not set"
    return None, f"no real GPT-2 weights on this machine ({where}; none in {hub}); these checks run where they are"


# ---------------------------------------------------------------------------------------
# Training (task 3): the masked loss's gradients and plain SGD, in float64, on one process
# ---------------------------------------------------------------------------------------


def hf_from_state(config: dict, state: dict[str, torch.Tensor], dtype=torch.float64):
    """GPT2LMHeadModel holding state (checkpoint layout), in dtype."""
    model = hf_model(config, seed=0)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k == "lm_head.weight" or k.endswith(".attn.bias") for k in missing), (missing, unexpected)
    model.tie_weights()
    return model.to(dtype).train(False)  # no dropout: GPT2Config's default dropouts are 0.1


def masked_loss_gradients(config: dict, state: dict, tokens, targets, mask) -> dict[str, torch.Tensor]:
    """Gradients of the mean cross-entropy over the valid (mask) tokens of the batch, float64."""
    model = hf_from_state(config, state)
    logits = model(tokens).logits
    losses = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
    loss = (losses * mask.flatten()).sum() / mask.sum()
    loss.backward()
    return {name: p.grad.detach().clone() for name, p in model.named_parameters()}


def sgd_steps(config: dict, state: dict, batches: list[dict], lr: float) -> dict[str, torch.Tensor]:
    """Parameters after one plain SGD step per global batch, float64."""
    state = {k: v.to(torch.float64) for k, v in state.items()}
    for batch in batches:
        grads = masked_loss_gradients(config, state, batch["tokens"], batch["targets"], batch["mask"])
        state = {k: v - lr * grads[k] for k, v in state.items()}
    return state
