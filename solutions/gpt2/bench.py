"""Time the reference GPT-2 against Hugging Face's GPT2LMHeadModel on the same weights and inputs.

    python -m solutions.gpt2.bench                          # forward and generation, batch 1 and 8
    python -m solutions.gpt2.bench --only forward --repeats 7
    python -m solutions.gpt2.bench --only generate --batch-sizes 1 --out bench.json

Both models hold the same seeded random GPT-2 small (124,439,808 parameters): Hugging Face's is
built by the grader's reference (grader/gpt2/reference.py) and ours loads its state dict through
hf.py. Every measurement alternates the two models in the same process (ours, HF, then HF, ours,
...) so that a noisy, shared machine slows both alike; the figures are medians and the ratio is
median(ours) / median(HF), below 1 when ours is faster.

- forward: full logits [B, T, vocab] from T tokens (default T = 256), float32, no KV cache.
- generate: greedy continuation of a prompt by N new tokens (default 128) with the KV cache,
  ours through generate.generate, HF's through model.generate with min_new_tokens = N so
  neither stops early. The tokens must be identical, or the run stops with an error.

Timings are never asserted anywhere: they depend on the machine. BENCHMARKS.md records them.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import date

import torch


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def interleaved(ours, theirs, repeats: int) -> tuple[list[float], list[float]]:
    """Time ours() and theirs() `repeats` times each, alternating which goes first."""
    times = {"ours": [], "hf": []}
    for r in range(repeats):
        order = [("ours", ours), ("hf", theirs)]
        if r % 2:
            order.reverse()
        for name, fn in order:
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times["ours"], times["hf"]


def summary(kind: str, batch: int, ours: list[float], hf: list[float], **extra) -> dict:
    row = {
        "kind": kind, "batch": batch, **extra,
        "ours_s": statistics.median(ours), "hf_s": statistics.median(hf),
        "ours_all_s": [round(t, 4) for t in ours], "hf_all_s": [round(t, 4) for t in hf],
    }
    row["ratio"] = row["ours_s"] / row["hf_s"]
    # The ratio of the two runs made back to back in each repetition, a second view of the noise.
    row["pair_ratios"] = [round(o / h, 3) for o, h in zip(ours, hf)]
    return row


def bench_forward(ours_model, hf_model, batch: int, seq: int, repeats: int, vocab: int) -> dict:
    tokens = torch.randint(0, vocab, (batch, seq), generator=torch.Generator().manual_seed(batch))
    with torch.inference_mode():
        a = ours_model(tokens)  # warm-up, and the check that both compute the same thing
        b = hf_model(tokens).logits
        assert a.shape == b.shape == (batch, seq, vocab), (a.shape, b.shape)
        max_diff = (a - b).abs().max().item()
        assert max_diff < 1e-3, f"ours and Hugging Face's logits differ by {max_diff}"
        del a, b
        ours, hf = interleaved(lambda: ours_model(tokens), lambda: hf_model(tokens).logits, repeats)
    return summary("forward", batch, ours, hf, seq=seq, max_abs_logit_diff=max_diff)


def bench_generate(ours_model, hf_model, batch: int, prompt_len: int, new_tokens: int, repeats: int, vocab: int) -> dict:
    from grader.gpt2.reference import hf_generate

    from .generate import generate

    prompt = torch.randint(0, vocab, (batch, prompt_len), generator=torch.Generator().manual_seed(100 + batch))
    a = generate(ours_model, prompt, new_tokens)  # warm-up, and the tokens must be Hugging Face's
    b = hf_generate(hf_model, prompt, new_tokens)
    assert a.shape == b.shape == (batch, prompt_len + new_tokens), (a.shape, b.shape)
    if not torch.equal(a, b):
        where = (a != b).nonzero()[0].tolist()
        raise AssertionError(f"generated tokens differ from Hugging Face's, first at (row, position) {where}")
    ours, hf = interleaved(lambda: generate(ours_model, prompt, new_tokens), lambda: hf_generate(hf_model, prompt, new_tokens), repeats)
    return summary("generate", batch, ours, hf, prompt=prompt_len, new_tokens=new_tokens)


def table(rows: list[dict]) -> str:
    lines = [
        "| what | batch | ours (s, median) | HF (s, median) | ours / HF | per-pair ratios |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        what = f"forward, T={r['seq']}" if r["kind"] == "forward" else f"generate {r['new_tokens']} (prompt {r['prompt']})"
        pairs = ", ".join(f"{p:.2f}" for p in r["pair_ratios"])
        lines.append(f"| {what} | {r['batch']} | {r['ours_s']:.3f} | {r['hf_s']:.3f} | **{r['ratio']:.3f}** | {pairs} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solutions.gpt2.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["forward", "generate"], help="run one benchmark (default: both)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8], metavar="B")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each model per case (default 5)")
    parser.add_argument("--seq", type=int, default=256, help="forward: sequence length (default 256)")
    parser.add_argument("--prompt", type=int, default=32, help="generate: prompt length (default 32)")
    parser.add_argument("--new-tokens", type=int, default=128, help="generate: new tokens (default 128)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's own choice)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights (default 0)")
    parser.add_argument(
        "--no-onednn", action="store_true",
        help="ours computes its Linear layers with PyTorch's default matmul (model.USE_ONEDNN = False), as Hugging Face does",
    )
    parser.add_argument("--out", help="also write the results as JSON to this file")
    args = parser.parse_args(argv)

    from grader.gpt2.reference import config_dict, hf_model, hf_state_dict

    from . import hf as hf_io
    from . import model as model_module

    try:  # Hugging Face's advice about attention masks and generation settings is noise here
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass
    import transformers

    if args.threads:
        torch.set_num_threads(args.threads)
    model_module.USE_ONEDNN = not args.no_onednn
    config = config_dict()
    theirs = hf_model(config, seed=args.seed)
    ours = hf_io.build(config, hf_state_dict(theirs))
    n_params = ours.num_parameters()
    machine = {
        "date": date.today().isoformat(), "cpu": cpu_model(), "python": platform.python_version(),
        "torch": torch.__version__, "transformers": transformers.__version__, "threads": torch.get_num_threads(),
        "hf_attn_implementation": theirs.config._attn_implementation, "parameters": n_params,
        "ours_linear": "oneDNN" if model_module.USE_ONEDNN and model_module.onednn_available() else "PyTorch default (MKL)",
    }
    print(", ".join(f"{k}: {v}" for k, v in machine.items()), flush=True)

    rows = []
    for kind in ("forward", "generate"):
        if args.only and kind != args.only:
            continue
        for batch in args.batch_sizes:
            if kind == "forward":
                row = bench_forward(ours, theirs, batch, args.seq, args.repeats, config["vocab_size"])
            else:
                row = bench_generate(ours, theirs, batch, args.prompt, args.new_tokens, args.repeats, config["vocab_size"])
            rows.append(row)
            print(table([row]).splitlines()[-1], flush=True)
    print()
    print(table(rows))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"machine": machine, "args": vars(args), "results": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
