"""Load a trained checkpoint and generate: the answer of an equation, or a memorised text.

    python -m solutions.grokking.inference --checkpoint solutions/grokking/checkpoints/div97.pt --prompt "12/5="
    python -m solutions.grokking.inference --checkpoint out/sanity/full --prompt "I"
    python -m solutions.grokking.inference --checkpoint ... --prompt "I" --temperature 0.8 --seed 1

--checkpoint is a model.pt (or a run folder holding one); its config comes with it. Generation
stops after --max_new_tokens tokens; by default one token after an equation's "=" (the answer is
one number token) and otherwise as many as the model's max_len allows.
"""

from __future__ import annotations

import argparse

import torch

from .data import operation_symbol
from .model import Transformer
from .tokenizer import decode, encode, number_id
from .train import load_checkpoint


@torch.no_grad()
def generate(
    model: Transformer, ids: list[int], max_new_tokens: int, temperature: float = 0.0, seed: int = 0
) -> list[int]:
    """ids followed by max_new_tokens generated ones: greedy (argmax) at temperature 0, else
    sampled from softmax(logits / temperature) with a seeded generator. No KV cache: the
    sequences here are a few dozen tokens at most, so recomputing the prefix costs nothing."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.tensor([ids], dtype=torch.long)
    for _ in range(max_new_tokens):
        logits = model(tokens, last_only=True)[0, -1]
        if temperature > 0:
            next_id = torch.multinomial(torch.softmax(logits / temperature, dim=-1), 1, generator=generator)
        else:
            next_id = logits.argmax().view(1)
        tokens = torch.cat([tokens, next_id.view(1, 1)], dim=1)
    return tokens[0].tolist()


@torch.no_grad()
def answers(model: Transformer, operation: str, pairs: list[tuple[int, int]]) -> list[int]:
    """The model's answer c to "a<op>b=" for each pair, all in one batch: the argmax over the whole
    vocabulary at "=" (greedy decoding of one token). A token that is not a number gives -1."""
    op = operation_symbol(operation)
    if not pairs:
        return []
    tokens = torch.tensor([encode(f"{a}{op}{b}=") for a, b in pairs], dtype=torch.long)
    predicted = model.eval()(tokens, last_only=True)[:, 0].argmax(dim=-1).tolist()
    first_number = number_id(0)
    return [i - first_number if decode([i]).isdigit() else -1 for i in predicted]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="generate from a trained checkpoint")
    parser.add_argument("--checkpoint", required=True, help="a model.pt, or a run folder holding one")
    parser.add_argument("--prompt", required=True, help='e.g. "12/5=" or "I"')
    parser.add_argument("--max_new_tokens", type=int, default=None, help="default: up to the model's max_len")
    parser.add_argument("--temperature", type=float, default=0.0, help="0: greedy")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    model, cfg = load_checkpoint(args.checkpoint)
    ids = encode(args.prompt)
    max_new = args.max_new_tokens
    if max_new is None:
        max_new = 1 if args.prompt.endswith("=") else cfg.max_len - len(ids) + 1  # the last one is never fed back
    out = generate(model, ids, max(0, max_new), args.temperature, args.seed)
    print(decode(out))


if __name__ == "__main__":
    main()
