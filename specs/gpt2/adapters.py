"""Adapter contract for the GPT-2 assignment (tasks 1, 2 and 3).

Copy this file to SUBMISSION/gpt2/adapters.py and make each function call your own code, which
may live in any modules under SUBMISSION/gpt2/ (import them relatively: `from .model import GPT`).
The grader calls these functions in a sandbox with weights and inputs it chooses, and compares
what they return with its own reference computed on the same weights. Every function is
self-contained: build what you need from the arguments; nothing carries over between calls.

Conventions
-----------
config: a dict with Hugging Face's GPT2Config names plus this assignment's options:
    vocab_size, n_positions (the longest sequence), n_embd, n_layer, n_head,
    layer_norm_epsilon (1e-5),
    n_kv_head   key/value heads for grouped-query attention (== n_head: ordinary attention),
    rope        True: rotary position embeddings instead of the learned position table wpe,
    rope_base   the rotary frequency base (10000.0),
    window      None, or W: query i attends to keys j with i - W < j <= i (W keys, itself included).

state_dict: weights in Hugging Face's GPT-2 layout and names, as in a GPT-2 checkpoint:
    transformer.wte.weight [vocab, C], transformer.wpe.weight [n_positions, C] (absent when rope),
    transformer.h.{i}.ln_1.{weight,bias}, transformer.h.{i}.attn.c_attn.{weight,bias},
    transformer.h.{i}.attn.c_proj.{weight,bias}, transformer.h.{i}.ln_2.{weight,bias},
    transformer.h.{i}.mlp.c_fc.{weight,bias}, transformer.h.{i}.mlp.c_proj.{weight,bias},
    transformer.ln_f.{weight,bias}. No lm_head.weight: the output layer is tied to wte.
    c_attn, c_proj, c_fc and mlp.c_proj are Conv1D weights: [in_features, out_features], the
    transpose of nn.Linear's. c_attn's output columns are the queries (n_head * head_dim), then
    the keys (n_kv_head * head_dim), then the values (n_kv_head * head_dim).

tokens: torch.int64 tensor [B, T]. Logits: torch.float32 tensor [B, T, vocab_size].
Conventions the grader accepts: either rotary pairing (adjacent dimensions (2i, 2i+1), or
half-split (i, i + D/2) as in GPT-NeoX and Llama); query head h uses key/value head
h // (n_head // n_kv_head).
"""

import torch

# ---------------------------------------------------------------------------------------
# Task 1: GPT-2 small, checkpoints, generation, tokenizer
# ---------------------------------------------------------------------------------------


def count_parameters(config: dict) -> int:
    """The number of parameters of your model built from config (the tied lm_head counted once).

    For GPT-2 small (vocab 50257, n_positions 1024, n_embd 768, 12 layers, 12 heads) this is
    124,439,808.
    """
    raise NotImplementedError


def checkpoint_logits(checkpoint_dir: str, tokens: torch.Tensor) -> torch.Tensor:
    """Load the Hugging Face GPT-2 checkpoint folder (config.json + model.safetensors) into your
    model and return its logits [B, T, vocab_size] for tokens [B, T]."""
    raise NotImplementedError


def checkpoint_generate(checkpoint_dir: str, tokens: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """Load the checkpoint and continue tokens [B, T] greedily, with your KV cache, by
    max_new_tokens tokens. Returns [B, T + max_new_tokens] (the prompt included)."""
    raise NotImplementedError


def logits(config: dict, state_dict: dict, tokens: torch.Tensor) -> torch.Tensor:
    """Build your model from config, load state_dict (Hugging Face layout, see above), and return
    logits [B, T, vocab_size] for tokens [B, T]."""
    raise NotImplementedError


def generate(
    config: dict,
    state_dict: dict,
    tokens: torch.Tensor,
    max_new_tokens: int,
    greedy: bool = True,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    use_cache: bool = True,
) -> torch.Tensor:
    """Continue tokens [B, T] by max_new_tokens and return [B, T + max_new_tokens].

    greedy=True picks the most likely token; otherwise sample from softmax(logits / temperature),
    restricted to the top_k most likely tokens when top_k is given, with a torch.Generator seeded
    with `seed`. use_cache=True uses your KV cache; use_cache=False recomputes every step from the
    whole sequence. Both must give the same tokens.
    """
    raise NotImplementedError


def encode(text: str) -> list[int]:
    """GPT-2's BPE token ids for text (tiktoken's "gpt2" encoding; "<|endoftext|>" is allowed
    and becomes 50256). In the sandbox, tiktoken.get_encoding("gpt2") works offline."""
    raise NotImplementedError


def decode(ids: list[int]) -> str:
    """The text of a list of GPT-2 token ids."""
    raise NotImplementedError


# ---------------------------------------------------------------------------------------
# Task 2: rotary embeddings, grouped-query attention, sliding window
# ---------------------------------------------------------------------------------------


def rotary(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Apply your rotary position embedding (base 10000) to x [B, H, T, D] at positions [T]
    (int64). Returns a tensor of the same shape and dtype."""
    raise NotImplementedError


def attention(config: dict, weights: dict, x: torch.Tensor) -> torch.Tensor:
    """One causal self-attention layer of your model, with config's n_head, n_kv_head, rope,
    rope_base and window, applied to x [B, T, n_embd] at positions 0..T-1.

    weights, in nn.Linear layout ([out_features, in_features]):
        c_attn.weight [(n_head + 2 * n_kv_head) * head_dim, n_embd], c_attn.bias,
        c_proj.weight [n_embd, n_embd], c_proj.bias.
    The projection's outputs are the queries, then the keys, then the values. Returns
    [B, T, n_embd]: softmax(q k^T / sqrt(head_dim)) v per head, then c_proj.
    """
    raise NotImplementedError


def kv_cache(config: dict, state_dict: dict, tokens: torch.Tensor) -> list:
    """Run tokens [B, T] through your model with an empty KV cache and return what the cache then
    holds: one [keys, values] pair per layer, each [B, n_kv_head, L, head_dim] with L = T, or
    L = min(T, window) with a window (keys after rotation when rope is on)."""
    raise NotImplementedError


# ---------------------------------------------------------------------------------------
# Task 3: one training loop for a single device, DDP and FSDP
# ---------------------------------------------------------------------------------------
#
# strategy is "single", "ddp" or "fsdp". For "ddp" and "fsdp" the grader starts one process per
# rank and has ALREADY called torch.distributed.init_process_group (gloo on CPU, NCCL on GPUs;
# RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT are set too) before it calls the
# function on every rank: use the default process group, do not create or destroy one. For
# "single" there is no process group. Run on CPU when no GPU is visible, and in float32.
#
# A batch is tokens [b, T] (int64), targets [b, T] (int64, the next tokens) and mask [b, T]
# (bool, True where the token counts). The loss of a training step is the mean cross-entropy
# over the valid tokens of the GLOBAL batch: the sum over every rank's valid tokens divided by
# the number of valid tokens on all ranks together (ranks may hold different numbers). Each rank
# gets its own share of the global batch, chosen by the grader.
#
# Weights and gradients go in and out in the state_dict layout above (full, unsharded tensors).


def train_gradients(config: dict, state_dict: dict, tokens, targets, mask, strategy: str) -> dict:
    """Build your model with state_dict, wrap it for strategy as your training script does, run
    one forward and backward pass of your training step on this rank's batch, and return the full
    gradient of every parameter, with state_dict's names and layout (Conv1D weights [in, out]).
    Every rank returns the same gradients: those of the global batch's loss."""
    raise NotImplementedError


def train_steps(config: dict, state_dict: dict, batches: list, strategy: str, lr: float) -> dict:
    """Run len(batches) optimizer steps of your training loop with plain SGD (torch.optim.SGD with
    this lr, no momentum, no weight decay, no gradient clipping, no learning-rate schedule).
    batches[i] is this rank's share of global batch i: {"tokens": ..., "targets": ..., "mask": ...}.
    Build the optimizer where your training script does. Return the full parameters after the
    steps, in state_dict's layout, on every rank."""
    raise NotImplementedError


def initial_state(config: dict, seed: int, strategy: str) -> dict:
    """Build and wrap your model as your training script does on this rank, after seeding torch
    with `seed` (the grader gives each rank a different seed, to check that every rank starts from
    rank 0's weights). Return the full parameters after wrapping, in state_dict's layout."""
    raise NotImplementedError


def save_checkpoint(config: dict, state_dict: dict, folder: str, strategy: str) -> None:
    """Load state_dict into your wrapped model, build your optimizer, and save a training
    checkpoint into folder (which exists and is shared by all ranks) with your training code, in
    any format (a sharded one is fine)."""
    raise NotImplementedError


def load_checkpoint(config: dict, folder: str) -> dict:
    """In a single process with no process group, load the checkpoint that save_checkpoint wrote
    into folder (under any world size) and return the model's full weights in state_dict's layout."""
    raise NotImplementedError


def shard_indices(num_examples: int, rank: int, world_size: int, seed: int, epoch: int) -> list:
    """Your distributed sampler: the indices of the examples that rank reads in this epoch (the
    same number on every rank; different ranks read different examples)."""
    raise NotImplementedError
