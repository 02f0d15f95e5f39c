"""Load a GPT-2 checkpoint and print a continuation of a prompt.

    python -m solutions.gpt2.sample --checkpoint DIR --prompt "The meaning of life is"
    python -m solutions.gpt2.sample --checkpoint DIR --greedy --max-new-tokens 40
    python -m solutions.gpt2.sample --random-init 0 --prompt "Hello"     # no checkpoint: gibberish

DIR is a Hugging Face GPT-2 folder (config.json + model.safetensors), for example the real GPT-2
saved by `GPT2LMHeadModel.from_pretrained("gpt2").save_pretrained(DIR)` on a machine with the
network, or a snapshot folder in ~/.cache/huggingface/hub/models--gpt2/snapshots/.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from .generate import generate
from .hf import load_checkpoint
from .model import GPT, GPTConfig
from .tokenizer import decode, encode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solutions.gpt2.sample", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a Hugging Face GPT-2 checkpoint folder")
    source.add_argument("--random-init", type=int, metavar="SEED", help="a randomly initialised GPT-2 small instead")
    parser.add_argument("--prompt", default="Hello, I'm a language model,")
    parser.add_argument("--max-new-tokens", type=int, default=50)
    parser.add_argument("--greedy", action="store_true", help="always take the most likely token")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=50)
    parser.add_argument("--num-samples", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampler")
    args = parser.parse_args(argv)

    if args.checkpoint:
        model = load_checkpoint(args.checkpoint)
    else:
        torch.manual_seed(args.random_init)
        model = GPT(GPTConfig()).eval()
    prompt = encode(args.prompt)
    if not prompt:
        parser.error("the prompt is empty")
    tokens = torch.tensor([prompt] * args.num_samples)
    start = time.perf_counter()
    out = generate(
        model, tokens, args.max_new_tokens, greedy=args.greedy, temperature=args.temperature, top_k=args.top_k, seed=args.seed
    )
    seconds = time.perf_counter() - start
    for i, row in enumerate(out.tolist()):
        if args.num_samples > 1:
            print(f"--- sample {i + 1}")
        print(decode(row))
    new = args.max_new_tokens * args.num_samples
    print(f"({new} tokens in {seconds:.1f} s, {new / seconds:.1f} tokens/s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
