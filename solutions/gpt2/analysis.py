"""Measurements behind ANALYSIS.md: what RoPE, grouped-query attention and a sliding window change.

    python -m solutions.gpt2.analysis --out solutions/gpt2/figures            # the full run (minutes)
    python -m solutions.gpt2.analysis --out /tmp/figs --quick                 # a smoke test (seconds)
    python -m solutions.gpt2.analysis --out DIR --steps 600 --seed 1          # a longer training run

It writes into --out:

    results.json          every number below, with the machine, versions and settings
    kv_cache.png          KV-cache bytes against the number of tokens in context, formula and measured
    attention_cost.png    attention FLOPs (formula) and wall time (measured) against sequence length
    decode_time.png       time of one cached decoding step against the context length
    training_loss.png     train and validation loss of the four variants trained on the same data
    loss_by_position.png  validation loss at each position of the context after training

The parts, in order:

1. Parameter counts of GPT-2 small and its variants, by instantiating each model (on the meta
   device, so no memory is allocated) and by a closed formula; the two must agree.
2. KV-cache bytes per token, 2 * n_layer * n_kv_head * head_dim * bytes per element, and the total
   for a context of n tokens (capped at `window` tokens with a sliding window); then measured by
   running cached greedy generation with GPT-2 small's shapes and summing the cache's tensors.
3. Attention cost against sequence length T: score FLOPs by formula (dense T^2, causal, window),
   and measured wall time of the attention kernel (causal, window as a dense boolean mask, window
   as a banded block computation written here) and of a whole attention layer of the model.
4. Time per cached decoding step against context length, for full attention, GQA, MQA and window.
5. Training: a corpus of the standard library's docstrings (read with `ast` from the running
   interpreter's own source, so nothing is downloaded), tokenised with GPT-2's BPE cut to its first
   2048 tokens, and four small models (baseline, RoPE, GQA, window) trained with the same seed,
   data order and optimiser.

The model code is imported from solutions/gpt2/model.py unchanged; everything timed here is what
that file does at the time of the run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import statistics
import sys
import sysconfig
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from .model import GPT, CausalSelfAttention, GPTConfig
from .train import file_docstrings

GPT2_SMALL = GPTConfig()  # n_layer 12, n_head 12, n_embd 768, vocab 50257, block 1024
BYTES = {"float32": 4, "bfloat16": 2}


# ---------------------------------------------------------------------------------------------
# 1. Parameter counts
# ---------------------------------------------------------------------------------------------


def gpt2_small_variants(window: int = 256) -> dict[str, GPTConfig]:
    """GPT-2 small and the variants the analysis compares, by name."""
    return {
        "baseline": GPT2_SMALL,
        "rope": replace(GPT2_SMALL, rope=True),
        "gqa4": replace(GPT2_SMALL, n_kv_head=4),
        "mqa": replace(GPT2_SMALL, n_kv_head=1),
        f"window{window}": replace(GPT2_SMALL, window=window),
    }


def count_parameters(config: GPTConfig) -> int:
    """GPT(config).num_parameters(), built on the meta device (no memory, no init time)."""
    with torch.device("meta"):
        return GPT(config).num_parameters()


def parameter_formula(config: GPTConfig) -> int:
    """The same count in closed form (the tied lm_head counts once)."""
    C, V, D = config.n_embd, config.vocab_size, config.head_dim
    qkv = (config.n_head + 2 * config.n_kv_head) * D
    per_layer = (
        2 * C  # ln_1
        + C * qkv + qkv  # c_attn: queries for n_head heads, keys and values for n_kv_head
        + C * C + C  # attn.c_proj
        + 2 * C  # ln_2
        + C * 4 * C + 4 * C  # mlp.c_fc
        + 4 * C * C + C  # mlp.c_proj
    )
    positions = 0 if config.rope else config.block_size * C
    return V * C + positions + config.n_layer * per_layer + 2 * C


def parameter_table(configs: dict[str, GPTConfig]) -> dict[str, dict]:
    base = count_parameters(configs["baseline"])
    rows = {}
    for name, cfg in configs.items():
        n = count_parameters(cfg)
        rows[name] = {
            "parameters": n,
            "formula": parameter_formula(cfg),
            "delta_vs_baseline": n - base,
            "attention_parameters_per_layer": cfg.n_embd * (cfg.n_head + 2 * cfg.n_kv_head) * cfg.head_dim
            + (cfg.n_head + 2 * cfg.n_kv_head) * cfg.head_dim
            + cfg.n_embd * cfg.n_embd
            + cfg.n_embd,
        }
    return rows


# ---------------------------------------------------------------------------------------------
# 2. KV-cache memory
# ---------------------------------------------------------------------------------------------


def kv_bytes_per_token(config: GPTConfig, bytes_per_element: int = 4) -> int:
    """Keys and values (2) of every layer and key/value head, for one position."""
    return 2 * config.n_layer * config.n_kv_head * config.head_dim * bytes_per_element


def kv_cache_bytes(config: GPTConfig, tokens: int, bytes_per_element: int = 4) -> int:
    """Bytes of the cache holding `tokens` positions (a window keeps only the last `window`)."""
    kept = tokens if config.window is None else min(tokens, config.window)
    return kept * kv_bytes_per_token(config, bytes_per_element)


def cache_tensor_bytes(cache) -> tuple[int, int]:
    """(live, allocated) bytes of a KV cache's keys and values.

    live: the bytes of the keys and values the cache holds, cache.keys[layer] and
    cache.values[layer] ([B, K, L, D] each): what attention reads, and what the formula counts.
    allocated: the bytes of every floating-point storage reachable from the cache's attributes,
    each counted once. It is larger where the cache keeps spare room (a buffer it writes new
    positions into) or where a held tensor is a view that keeps a larger parent alive.
    """
    live = sum(t.numel() * t.element_size() for t in list(cache.keys) + list(cache.values) if t is not None)
    storages: dict[int, int] = {}

    def visit(obj):
        if isinstance(obj, torch.Tensor):
            if obj.is_floating_point():
                storage = obj.untyped_storage()
                storages[storage.data_ptr()] = storage.nbytes()
        elif isinstance(obj, (list, tuple)):
            for item in obj:
                visit(item)
        elif isinstance(obj, dict):
            for item in obj.values():
                visit(item)

    visit(vars(cache))
    visit(list(cache.keys) + list(cache.values))
    return live, sum(storages.values())


@torch.inference_mode()
def measure_kv_cache(configs: dict[str, GPTConfig], prompt_len: int, total_len: int, every: int, seed: int = 0) -> dict:
    """Grow a cache the way generation does and read its bytes at every checkpoint.

    From a prompt of prompt_len tokens, the context grows to each multiple of `every`: all but the
    last token of the stretch are fed as one chunk through the cached forward (chunked prefill),
    the last one as a single greedy decoding step, as generate() takes it; then the cache's tensors
    are read. The vocabulary is cut to 256 (it does not enter the cache) to keep the run short;
    every other shape is the config's. Returns, per variant, the lengths, the live and allocated
    bytes and the formula's bytes at the same lengths.
    """
    out = {}
    for name, cfg in configs.items():
        cfg = replace(cfg, vocab_size=256, block_size=max(cfg.block_size, total_len))
        torch.manual_seed(seed)
        model = GPT(cfg).eval()
        cache = model.new_cache()
        g = torch.Generator().manual_seed(seed)
        logits = model(torch.randint(0, cfg.vocab_size, (1, prompt_len), generator=g), cache=cache, last_only=True)
        length = prompt_len
        rows = {"tokens": [], "live_bytes": [], "allocated_bytes": [], "formula_bytes": []}
        while True:
            live, allocated = cache_tensor_bytes(cache)
            rows["tokens"].append(length)
            rows["live_bytes"].append(live)
            rows["allocated_bytes"].append(allocated)
            rows["formula_bytes"].append(kv_cache_bytes(cfg, length, 4))
            if length >= total_len:
                break
            target = min(total_len, (length // every + 1) * every)
            if target - length > 1:
                chunk = torch.randint(0, cfg.vocab_size, (1, target - length - 1), generator=g)
                logits = model(chunk, cache=cache, last_only=True)
            token = logits[:, -1].argmax(-1, keepdim=True)  # one greedy step, as generate() takes it
            logits = model(token, cache=cache, last_only=True)
            length = target
        out[name] = rows
    return out


# ---------------------------------------------------------------------------------------------
# 3. Attention cost against sequence length
# ---------------------------------------------------------------------------------------------


def attention_score_flops(T: int, n_embd: int, window: int | None = None, dense: bool = False) -> int:
    """FLOPs of q.k scores plus the weighted sum of values for one layer (all heads), batch 1.

    Each (query, key) pair costs 2 * head_dim FLOPs for the score and 2 * head_dim for the value
    sum, over n_head heads: 4 * n_embd per pair. Pairs: T^2 for a dense kernel that computes the
    masked entries too, T(T+1)/2 for causal, and sum_i min(i+1, W) for a causal window W.
    """
    if dense:
        pairs = T * T
    elif window is None or window >= T:
        pairs = T * (T + 1) // 2
    else:
        pairs = window * (window + 1) // 2 + (T - window) * window
    return 4 * n_embd * pairs


def window_mask(T: int, window: int | None) -> torch.Tensor:
    """Boolean [T, T], True where query i may read key j: j <= i and i - j < window."""
    i = torch.arange(T)
    distance = i[:, None] - i[None, :]
    allowed = distance >= 0
    if window is not None:
        allowed &= distance < window
    return allowed


def banded_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int) -> torch.Tensor:
    """Causal sliding-window attention computed block by block, O(T * window) work.

    Queries are cut into blocks of `window`; the block [s, e) can only see keys in
    [s - window + 1, e), at most 2 * window - 1 of them, so each block is one small dense SDPA call
    with a small mask. This is what a banded kernel does (Longformer's, or FlexAttention's block
    sparsity); the reference model instead passes a full [T, T] mask to one dense call.
    """
    T = q.size(-2)
    out = torch.empty_like(q)
    for s in range(0, T, window):
        e = min(s + window, T)
        ks = max(0, s - window + 1)
        distance = torch.arange(s, e)[:, None] - torch.arange(ks, e)[None, :]
        mask = (distance >= 0) & (distance < window)
        out[..., s:e, :] = F.scaled_dot_product_attention(q[..., s:e, :], k[..., ks:e, :], v[..., ks:e, :], attn_mask=mask)
    return out


def time_interleaved(fns: dict, rounds: int = 5, budget_s: float = 4.0) -> dict[str, float]:
    """Fastest time in seconds of each fn(), timed in round-robin so that a slow spell on a shared
    machine hits every candidate alike. One warm-up call each; then `rounds` rounds, fewer (at
    least one) when a round would take longer than budget_s / rounds. The minimum, not the mean:
    other processes only ever add time, so the fastest run is the best estimate of the cost."""
    first = {}
    for name, fn in fns.items():
        start = time.perf_counter()
        fn()
        first[name] = time.perf_counter() - start
    rounds = max(1, min(rounds, int(budget_s / max(sum(first.values()), 1e-9))))
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


@torch.inference_mode()
def measure_attention(lengths: list[int], layer_lengths: list[int], n_embd: int, n_head: int, window: int, seed: int = 0) -> dict:
    """Wall time of the attention kernel and of one CausalSelfAttention layer of the model, batch 1."""
    D = n_embd // n_head
    g = torch.Generator().manual_seed(seed)
    kernel = {"T": [], "causal": [], "window_dense_mask": [], "window_banded": [], "max_abs_diff_banded_vs_mask": []}
    for T in lengths:
        q, k, v = (torch.randn(1, n_head, T, D, generator=g) for _ in range(3))
        mask = window_mask(T, window)
        times = time_interleaved({
            "causal": lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True),
            "window_dense_mask": lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
            "window_banded": lambda: banded_attention(q, k, v, window),
        })
        kernel["T"].append(T)
        for name, t in times.items():
            kernel[name].append(t)
        diff = (banded_attention(q, k, v, window) - F.scaled_dot_product_attention(q, k, v, attn_mask=mask)).abs().max()
        kernel["max_abs_diff_banded_vs_mask"].append(float(diff))

    layer_variants = {
        "full": dict(),
        f"gqa{max(1, n_head // 3)}": dict(n_kv_head=max(1, n_head // 3)),
        f"window{window}": dict(window=window),
    }
    layers = {}
    for name, extra in layer_variants.items():
        cfg = GPTConfig(n_embd=n_embd, n_head=n_head, n_layer=1, block_size=max(layer_lengths), **extra)
        torch.manual_seed(seed)
        layers[name] = CausalSelfAttention(cfg, 0).eval()
    layer = {"T": list(layer_lengths), **{name: [] for name in layers}}
    for T in layer_lengths:
        x = torch.randn(1, T, n_embd, generator=g)
        positions = torch.arange(T)
        times = time_interleaved({name: (lambda a=a: a(x, positions)) for name, a in layers.items()})
        for name, t in times.items():
            layer[name].append(t)
    return {"kernel": kernel, "layer": layer, "n_embd": n_embd, "n_head": n_head, "window": window}


# ---------------------------------------------------------------------------------------------
# 4. Cached decoding time against context length
# ---------------------------------------------------------------------------------------------


@torch.inference_mode()
def measure_decode(contexts: list[int], base: GPTConfig, window: int, steps: int = 8, seed: int = 0) -> dict:
    """Fastest time of one cached decoding step (batch 1) after a prompt of each context length.

    For each length every variant's cache is filled by one prefill; then the variants take their
    decoding steps in round-robin (one step each per round), so machine noise is shared.
    """
    variants = {
        "full": base,
        f"gqa{max(1, base.n_head // 3)}": replace(base, n_kv_head=max(1, base.n_head // 3)),
        "mqa": replace(base, n_kv_head=1),
        f"window{window}": replace(base, window=window),
    }
    models = {}
    for name, cfg in variants.items():
        torch.manual_seed(seed)
        models[name] = GPT(replace(cfg, block_size=max(contexts) + steps + 2)).eval()
    out = {"context": list(contexts), "config": asdict(base), **{name: [] for name in models}}
    for L in contexts:
        prompt = torch.randint(0, base.vocab_size, (1, L), generator=torch.Generator().manual_seed(seed))
        state = {}
        for name, model in models.items():
            cache = model.new_cache()
            logits = model(prompt, cache=cache, last_only=True)
            token = logits[:, -1].argmax(-1, keepdim=True)
            logits = model(token, cache=cache, last_only=True)  # warm-up step
            state[name] = (cache, logits[:, -1].argmax(-1, keepdim=True))
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(steps):
            for name, model in models.items():
                cache, token = state[name]
                start = time.perf_counter()
                logits = model(token, cache=cache, last_only=True)
                times[name].append(time.perf_counter() - start)
                state[name] = (cache, logits[:, -1].argmax(-1, keepdim=True))
        for name in models:
            out[name].append(min(times[name]))
        del state
    return out


# ---------------------------------------------------------------------------------------------
# 5. Training comparison on the standard library's docstrings
# ---------------------------------------------------------------------------------------------

SKIP_DIRS = {"test", "tests", "idlelib", "site-packages", "dist-packages", "lib2to3", "turtledemo", "__pycache__"}


def stdlib_docstrings(max_files: int | None = None) -> tuple[list[str], list[str], dict]:
    """Docstrings of the running interpreter's standard library, split by file into train and val.

    Files are read in sorted order (test suites and IDLE left out); within a file, the module's,
    classes' and functions' docstrings in ast.walk order; repeated docstrings are kept once. Every
    10th file goes to validation, so the two sets share no module.
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py") if not SKIP_DIRS & set(p.relative_to(root).parts[:-1]))
    if max_files is not None:
        files = files[:max_files]
    seen: set[str] = set()
    train, val = [], []
    for index, path in enumerate(files):
        for doc in file_docstrings(path):
            if doc not in seen:
                seen.add(doc)
                (val if index % 10 == 0 else train).append(doc)
    info = {"stdlib": str(root), "python": platform.python_version(), "files": len(files)}
    return train, val, info


def small_bpe(vocab_size: int = 2048):
    """GPT-2's BPE cut to its first vocab_size tokens: the 256 bytes and the first merges.

    Token ids are GPT-2's own (they are below vocab_size), the text round-trips exactly, and the
    model's embedding and output layers shrink from 50257 rows to vocab_size.
    """
    import tiktoken

    from .tokenizer import GPT2_PATTERN, gpt2_encoding

    full = gpt2_encoding()
    ranks = {full.decode_single_token_bytes(i): i for i in range(vocab_size)}
    return tiktoken.Encoding(name=f"gpt2-first-{vocab_size}", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={})


def build_corpus(vocab_size: int = 2048, max_files: int | None = None) -> dict:
    train_docs, val_docs, info = stdlib_docstrings(max_files)
    sep = "\n\n"
    train_text, val_text = sep.join(train_docs), sep.join(val_docs)
    enc = small_bpe(vocab_size)
    train_ids = torch.tensor(enc.encode_ordinary(train_text), dtype=torch.long)
    val_ids = torch.tensor(enc.encode_ordinary(val_text), dtype=torch.long)
    info.update(
        train_docstrings=len(train_docs), val_docstrings=len(val_docs),
        train_chars=len(train_text), val_chars=len(val_text),
        train_tokens=train_ids.numel(), val_tokens=val_ids.numel(),
        vocab_size=vocab_size, distinct_train_tokens=int(train_ids.unique().numel()),
        chars_per_token=round(len(train_text) / max(1, train_ids.numel()), 3),
        sha256=hashlib.sha256((train_text + "\0" + val_text).encode()).hexdigest(),
        sample=train_text[:300],
    )
    return {"train": train_ids, "val": val_ids, "info": info}


@dataclass
class TrainSettings:
    steps: int = 300
    batch_size: int = 16
    block_size: int = 128
    lr: float = 2e-3
    min_lr: float = 2e-4
    warmup: int = 30
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 25
    eval_batches: int = 8  # batches of batch_size sequences for the curves
    final_eval_batches: int | None = None  # and for the final numbers (None: the whole val set)
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    n_kv_head_gqa: int = 2
    window: int = 32
    extrapolate: int = 2  # RoPE is also evaluated on sequences this many times block_size


def training_variants(s: TrainSettings, vocab_size: int) -> dict[str, GPTConfig]:
    base = GPTConfig(vocab_size=vocab_size, block_size=s.block_size, n_layer=s.n_layer, n_head=s.n_head, n_embd=s.n_embd)
    return {
        "baseline": base,
        "rope": replace(base, rope=True),
        f"gqa{s.n_kv_head_gqa}": replace(base, n_kv_head=s.n_kv_head_gqa),
        f"window{s.window}": replace(base, window=s.window),
    }


def lr_at(step: int, s: TrainSettings) -> float:
    if step < s.warmup:
        return s.lr * (step + 1) / s.warmup
    progress = (step - s.warmup) / max(1, s.steps - s.warmup)
    return s.min_lr + 0.5 * (s.lr - s.min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))


def eval_windows(ids: torch.Tensor, T: int, n: int | None = None) -> torch.Tensor:
    """n non-overlapping sequences of T + 1 tokens spread evenly over ids (None: as many as fit)."""
    most = ids.numel() // (T + 1)
    n = most if n is None else min(n, most)
    stride = (ids.numel() - (T + 1)) // max(1, n - 1) if n > 1 else 0
    stride = max(stride, T + 1)
    return torch.stack([ids[i * stride : i * stride + T + 1] for i in range(n)])


@torch.no_grad()
def evaluate(model: GPT, data: torch.Tensor, batch_size: int) -> tuple[float, torch.Tensor]:
    """Mean loss over data [N, T + 1], and the mean loss at each position [T]."""
    model.eval()
    per_position = torch.zeros(data.size(1) - 1)
    for i in range(0, data.size(0), batch_size):
        batch = data[i : i + batch_size]
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten(), reduction="none").view(batch.size(0), -1)
        per_position += loss.sum(0)
    model.train()
    per_position /= data.size(0)
    return float(per_position.mean()), per_position


def train_variant(cfg: GPTConfig, corpus: dict, s: TrainSettings, seed: int) -> dict:
    torch.manual_seed(seed)  # the same init seed for every variant
    model = GPT(cfg)
    model.train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": s.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=s.lr, betas=(0.9, 0.95),
    )
    data_gen = torch.Generator().manual_seed(seed)  # the same batches, in the same order, for every variant
    train_ids, T = corpus["train"], s.block_size
    val_curve_data = eval_windows(corpus["val"], T, s.eval_batches * s.batch_size)
    n_final = None if s.final_eval_batches is None else s.final_eval_batches * s.batch_size
    val_final_data = eval_windows(corpus["val"], T, n_final)
    history = {"step": [], "train_loss": [], "val_step": [], "val_loss": []}
    start = time.perf_counter()
    for step in range(s.steps + 1):
        if step % s.eval_every == 0 or step == s.steps:
            history["val_step"].append(step)
            history["val_loss"].append(evaluate(model, val_curve_data, s.batch_size)[0])
        if step == s.steps:
            break
        offsets = torch.randint(0, train_ids.numel() - T - 1, (s.batch_size,), generator=data_gen)
        batch = torch.stack([train_ids[o : o + T + 1] for o in offsets.tolist()])
        for group in opt.param_groups:
            group["lr"] = lr_at(step, s)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
        opt.step()
        history["step"].append(step)
        history["train_loss"].append(loss.item())
    seconds = time.perf_counter() - start
    final, per_position = evaluate(model, val_final_data, s.batch_size)
    result = {
        "config": asdict(cfg),
        "parameters": model.num_parameters(),
        "seconds": seconds,
        "history": history,
        "final_val_loss": final,
        "final_val_perplexity": math.exp(final),
        "final_val_sequences": int(val_final_data.size(0)),
        "final_train_loss_last20": statistics.mean(history["train_loss"][-20:]),
        "val_loss_by_position": per_position.tolist(),
    }
    if cfg.rope and s.extrapolate > 1:  # only RoPE has no position table to run off the end of
        long = eval_windows(corpus["val"], s.extrapolate * T, None if n_final is None else max(4, n_final // s.extrapolate))
        long_loss, long_positions = evaluate(model, long, max(1, s.batch_size // s.extrapolate))
        result["extrapolation"] = {
            "length": s.extrapolate * T,
            "sequences": int(long.size(0)),
            "val_loss": long_loss,
            "val_loss_first_block": float(long_positions[:T].mean()),
            "val_loss_beyond_block": float(long_positions[T:].mean()),
            "val_loss_by_position": long_positions.tolist(),
        }
    return result


def run_training(s: TrainSettings, seed: int, max_files: int | None, log=print) -> dict:
    start = time.perf_counter()
    corpus = build_corpus(max_files=max_files)
    info = corpus["info"]
    log(
        f"corpus: {info['train_docstrings']} + {info['val_docstrings']} docstrings, {info['train_tokens']:,} train / "
        f"{info['val_tokens']:,} val tokens ({time.perf_counter() - start:.1f} s)"
    )
    runs = {}
    for name, cfg in training_variants(s, info["vocab_size"]).items():
        runs[name] = train_variant(cfg, corpus, s, seed)
        r = runs[name]
        log(f"  {name:10s} {r['parameters']:>9,} params  val {r['final_val_loss']:.4f}  ({r['seconds']:.1f} s)")
    return {"corpus": info, "settings": asdict(s), "seed": seed, "runs": runs}


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------

COLORS = {"baseline": "C0", "full": "C0", "rope": "C1", "gqa": "C2", "mqa": "C3", "window": "C4"}


def color(name: str) -> str:
    for prefix, c in COLORS.items():
        if name.startswith(prefix):
            return c
    return "C7"


def _mib(x):
    return [b / 2**20 for b in x]


def plot_kv_cache(results: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    configs = gpt2_small_variants(results["window"])
    lengths = [2**i for i in range(0, 15)]  # 1 .. 16384 tokens
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for name, cfg in configs.items():
        style = "--" if name == "rope" else "-"
        label = f"{name} ({kv_bytes_per_token(cfg) // 1024} KiB/token)"
        ax.plot(lengths, _mib([kv_cache_bytes(cfg, n) for n in lengths]), style, color=color(name), label=label)
    for name, rows in results["measured"].items():
        ax.plot(rows["tokens"], _mib(rows["live_bytes"]), "o", ms=4, color=color(name), mfc="none")
        ax.plot(rows["tokens"], _mib(rows["allocated_bytes"]), "x", ms=3, color=color(name), alpha=0.6)
    ax.plot([], [], "ko", mfc="none", ms=4, label="measured: keys/values held")
    ax.plot([], [], "kx", ms=3, alpha=0.6, label="measured: buffers allocated")
    ax.axvline(GPT2_SMALL.block_size, color="0.6", lw=0.8, ls=":")
    ax.text(GPT2_SMALL.block_size * 1.05, 0.012, "block_size 1024", color="0.4", fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("tokens in context (prompt + generated)")
    ax.set_ylabel("KV cache, MiB per sequence (float32)")
    ax.set_title("GPT-2 small KV cache (bf16 halves every line)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot_attention(results: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    k, layer, W, C = results["kernel"], results["layer"], results["window"], results["n_embd"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    Ts = k["T"]
    ax = axes[0]
    ax.plot(Ts, [attention_score_flops(T, C, dense=True) / 1e9 for T in Ts], "-", color="0.5", label="dense T² (masked entries computed)")
    ax.plot(Ts, [attention_score_flops(T, C) / 1e9 for T in Ts], "-", color=color("full"), label="causal, T(T+1)/2 pairs")
    ax.plot(Ts, [attention_score_flops(T, C, window=W) / 1e9 for T in Ts], "-", color=color("window"), label=f"window {W}, ≈T·W pairs")
    ax.set_title(f"(a) attention FLOPs per layer (formula, C={C})")
    ax.set_ylabel("GFLOP")
    ax = axes[1]
    ax.plot(Ts, [t * 1e3 for t in k["causal"]], "o-", color=color("full"), label="causal (is_causal=True)")
    ax.plot(Ts, [t * 1e3 for t in k["window_dense_mask"]], "s-", color=color("window"), label=f"window {W}: dense boolean mask (the model)")
    ax.plot(Ts, [t * 1e3 for t in k["window_banded"]], "^--", color="C5", label=f"window {W}: banded blocks (this script)")
    ax.set_title(f"(b) SDPA kernel time, {results['n_head']} heads, batch 1")
    ax.set_ylabel("ms")
    ax = axes[2]
    for name in [n for n in layer if n != "T"]:
        ax.plot(layer["T"], [t * 1e3 for t in layer[name]], "o-", color=color(name), label=name)
    ax.set_title("(c) one CausalSelfAttention layer (with projections)")
    ax.set_ylabel("ms")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length T")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_decode(results: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    ctx = results["context"]
    for name in [n for n in results if n not in ("context", "config", "sources")]:
        ax.plot(ctx, [t * 1e3 for t in results[name]], "o-", color=color(name), label=name)
    cfg = results["config"]
    ax.set_xscale("log", base=2)
    ax.set_xlabel("context length (tokens already in the cache)")
    ax.set_ylabel("ms per generated token")
    ax.set_title(f"cached decoding step, {cfg['n_layer']} layers of GPT-2 small width, batch 1")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot_training(results: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
    for name, r in results["runs"].items():
        h = r["history"]
        k = 10
        smooth = [statistics.mean(h["train_loss"][max(0, i - k + 1) : i + 1]) for i in range(len(h["train_loss"]))]
        axes[0].plot(h["step"], smooth, color=color(name), label=f"{name} train (mean of last {k} steps)")
        axes[0].plot(h["val_step"], h["val_loss"], "o--", ms=3, color=color(name), alpha=0.8, label=f"{name} val")
        tail = max(1, len(h["val_step"]) // 2)
        axes[1].plot(h["val_step"][tail - 1 :], h["val_loss"][tail - 1 :], "o-", ms=4, color=color(name), label=f"{name}: {r['final_val_loss']:.3f}")
    s = results["settings"]
    axes[0].set_title(f"loss, {s['n_layer']} layers × {s['n_head']} heads × {s['n_embd']}, context {s['block_size']}")
    axes[0].set_ylim(top=min(8.0, axes[0].get_ylim()[1]))
    axes[1].set_title("validation loss, second half of training (legend: final val loss)")
    for ax in axes:
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy (nats per token)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def binned(values: list[float], width: int) -> tuple[list[float], list[float]]:
    """Means of consecutive bins of `width` positions, and the bins' centres (1-based positions)."""
    centres, means = [], []
    for start in range(0, len(values), width):
        chunk = values[start : start + width]
        centres.append(start + (len(chunk) + 1) / 2)
        means.append(statistics.mean(chunk))
    return centres, means


def plot_positions(results: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    s = results["settings"]
    T, W = s["block_size"], s["window"]
    width = max(1, T // 16)
    for name, r in results["runs"].items():
        x, y = binned(r["val_loss_by_position"], width)
        ax.plot(x, y, "o-", ms=3, color=color(name), label=name, lw=1.2)
        if "extrapolation" in r:
            e = r["extrapolation"]
            x, y = binned(e["val_loss_by_position"], width)
            ax.plot(x, y, "o:", ms=3, color=color(name), lw=1.2, label=f"{name} on {e['length']}-token sequences")
    ax.axvline(T, color="0.5", lw=0.8, ls="--")
    ax.text(T, ax.get_ylim()[1], " trained length", va="top", fontsize=8, color="0.4")
    ax.axvline(W, color=color("window"), lw=0.8, ls="--")
    ax.text(W, ax.get_ylim()[1], f" window {W}", va="top", fontsize=8, color=color("window"))
    ax.set_xlabel(f"position in the sequence (mean over bins of {width} positions)")
    ax.set_ylabel("validation loss (nats per token)")
    ax.set_title("validation loss by position after training")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def source_hashes() -> dict[str, str]:
    """SHA-256 (first 16 hex digits) of the model files measured, to tell which version a run saw."""
    here = Path(__file__).parent
    return {name: hashlib.sha256((here / name).read_bytes()).hexdigest()[:16] for name in ("model.py", "generate.py", "analysis.py")}


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d"),
        "cpu": cpu,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }


PARTS = ("parameters", "kv_cache", "attention", "decode", "training")


def run_all(out: Path, quick: bool = False, steps: int | None = None, seed: int = 0, parts=PARTS, log=print) -> dict:
    """Run the parts, write results.json and the figures into out, and return the results.

    quick: tiny models and lengths, so that every part runs in seconds (a smoke test; its numbers
    mean nothing). The parameter and KV-per-token tables are GPT-2 small's in both modes.
    """
    import matplotlib

    matplotlib.use("Agg")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results: dict = {"machine": machine_info(), "sources": source_hashes(), "quick": quick, "seed": seed, "timings_s": {}}
    window = 256  # the GPT-2 small window variant

    def lap(name, start):
        results["timings_s"][name] = round(time.perf_counter() - start, 2)
        log(f"[{name}] {results['timings_s'][name]} s")

    start = time.perf_counter()
    results["parameters"] = parameter_table(gpt2_small_variants(window))
    results["kv_bytes_per_token"] = {
        name: {dtype: kv_bytes_per_token(cfg, b) for dtype, b in BYTES.items()} for name, cfg in gpt2_small_variants(window).items()
    }
    lap("parameters", start)

    if "kv_cache" in parts:
        start = time.perf_counter()
        if quick:
            tiny = GPTConfig(n_layer=2, n_head=4, n_embd=64)
            configs = {"baseline": tiny, "gqa2": replace(tiny, n_kv_head=2), "window16": replace(tiny, window=16)}
            kv = measure_kv_cache(configs, prompt_len=4, total_len=40, every=8, seed=seed)
        else:
            configs = gpt2_small_variants(window)
            kv = measure_kv_cache(configs, prompt_len=16, total_len=512, every=32, seed=seed)
        results["kv_cache"] = {"measured": kv, "configs": {n: asdict(c) for n, c in configs.items()}}
        plot_kv_cache({"window": window, "measured": {} if quick else kv}, out / "kv_cache.png")
        lap("kv_cache", start)

    if "attention" in parts:
        start = time.perf_counter()
        if quick:
            attn = measure_attention([64, 128, 256], [64, 128], n_embd=96, n_head=3, window=32, seed=seed)
        else:
            attn = measure_attention([128, 256, 512, 1024, 2048, 4096], [128, 256, 512, 1024, 2048], n_embd=768, n_head=12, window=window, seed=seed)
        results["attention"] = attn
        plot_attention(attn, out / "attention_cost.png")
        lap("attention", start)

    if "decode" in parts:
        start = time.perf_counter()
        if quick:
            decode = measure_decode([16, 32, 64], GPTConfig(vocab_size=256, n_layer=1, n_head=3, n_embd=96), window=16, steps=3, seed=seed)
        else:
            decode = measure_decode([128, 256, 512, 1024, 2048], replace(GPT2_SMALL, vocab_size=256, n_layer=2), window=window, steps=24, seed=seed)
        results["decode"] = decode
        plot_decode(decode, out / "decode_time.png")
        lap("decode", start)

    if "training" in parts:
        start = time.perf_counter()
        if quick:
            settings = TrainSettings(steps=steps or 6, batch_size=4, block_size=32, warmup=2, eval_every=3, eval_batches=1,
                                     n_layer=1, n_head=2, n_embd=32, n_kv_head_gqa=1, window=8)
            training = run_training(settings, seed, max_files=12, log=log)
        else:
            training = run_training(TrainSettings(steps=steps or TrainSettings.steps), seed, max_files=None, log=log)
        results["training"] = training
        plot_training(training, out / "training_loss.png")
        plot_positions(training, out / "loss_by_position.png")
        lap("training", start)

    results["timings_s"]["total"] = round(time.perf_counter() - t0, 2)
    for part in set(parts) - {"parameters"}:  # which version of the model each part measured
        results[part]["sources"] = results["sources"]
    path = out / "results.json"
    if set(parts) != set(PARTS) and path.exists():  # a partial rerun updates its parts in place
        previous = json.loads(path.read_text())
        if previous.get("quick") == quick:
            timings = {**previous.get("timings_s", {}), **results["timings_s"]}
            timings.pop("total", None)
            results = {**previous, **results, "timings_s": timings}
    path.write_text(json.dumps(results, indent=1) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solutions.gpt2.analysis", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "figures", help="folder for the figures and results.json")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test of every part in seconds")
    parser.add_argument("--steps", type=int, default=None, help=f"training steps per variant (default {TrainSettings.steps})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)} (default: all)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 keeps timings steady on a shared machine)")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if unknown := set(parts) - set(PARTS):
        parser.error(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    start = time.perf_counter()
    previous = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        results = run_all(args.out, quick=args.quick, steps=args.steps, seed=args.seed, parts=parts)
    finally:
        torch.set_num_threads(previous)
    print(f"wrote {args.out}/results.json and the figures in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
