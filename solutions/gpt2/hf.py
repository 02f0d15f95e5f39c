"""Hugging Face GPT-2 checkpoints in and out of the from-scratch model.

A checkpoint folder holds config.json and model.safetensors (or pytorch_model.bin). Hugging
Face's GPT-2 stores its attention and MLP weights as Conv1D, whose weight is [in, out]: the
transpose of nn.Linear's [out, in]. Those four matrices per block are transposed on the way in;
everything else maps one to one. The same layout, extended, carries the options of this model:
c_attn's output columns are the queries, then n_kv_head key heads, then n_kv_head value heads.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .model import GPT, GPTConfig

CONV1D_WEIGHTS = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def from_hf_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename and transpose a Hugging Face GPT-2 state dict into GPT's layout."""
    out = {}
    for name, tensor in state.items():
        name = name.removeprefix("transformer.")
        if name.endswith((".attn.bias", ".attn.masked_bias")) or name == "lm_head.weight":
            continue  # old checkpoints carry the causal mask as a buffer; lm_head is tied to wte
        if name.endswith(CONV1D_WEIGHTS):
            tensor = tensor.t()
        out[name] = tensor.contiguous()
    if "wte.weight" in out:
        out["lm_head.weight"] = out["wte.weight"]  # the tied output layer
    return out


def to_hf_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """The inverse of from_hf_state_dict, with the "transformer." prefix save_pretrained uses."""
    out = {}
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight":
            continue
        if name.endswith(CONV1D_WEIGHTS):
            tensor = tensor.t()
        out[f"transformer.{name}"] = tensor.contiguous()
    return out


def build(config: GPTConfig | dict, hf_state: dict[str, torch.Tensor]) -> GPT:
    """A model in eval mode holding the given Hugging Face-layout weights."""
    if isinstance(config, dict):
        config = GPTConfig.from_dict(config)
    model = GPT(config)
    model.load_state_dict(from_hf_state_dict(hf_state), strict=True)
    return model.eval()


def load_checkpoint(folder: str | Path) -> GPT:
    """Load a Hugging Face GPT-2 checkpoint folder (config.json + weights) into GPT."""
    folder = Path(folder)
    config = GPTConfig.from_dict(json.loads((folder / "config.json").read_text()))
    if (folder / "model.safetensors").is_file():
        from safetensors.torch import load_file

        state = load_file(folder / "model.safetensors")
    else:
        state = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    return build(config, state)
