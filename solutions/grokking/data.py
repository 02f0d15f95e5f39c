"""Modular-arithmetic equations, their train/val/test splits, and the split files.

    python -m solutions.grokking.data                      # writes data/<op>_p<p>_<split>.txt, prints counts
    python -m solutions.grokking.data --seed 1 --train_fraction 0.3 --out_dir /tmp/splits

An equation is a triple (a, b, c) of residues modulo a prime p, 0 <= a, b < p:
    "+"  c = (a + b) mod p
    "-"  c = (a - b) mod p
    "/"  c = a * b^(p-2) mod p     (b^(p-2) is b's inverse by Fermat's little theorem; b != 0)
The handout's "0 <= a, b <= p" would count p, which is the residue 0 again, so each equation
would appear twice; we use each residue once: p * p equations for + and -, p * (p - 1) for /.

Splits: every equation of the operation in a fixed order, shuffled with random.Random(seed)
(the same permutation in every process and Python version), the first train_fraction of them
for training, the rest halved into validation (tuning, early stopping) and test (reported only).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from .tokenizer import encode, number_id

OPERATIONS = {"+": "add", "-": "sub", "/": "div"}  # symbol -> name used in file names and configs
PRIMES = (97, 113)
DATA_DIR = Path(__file__).parent / "data"

Equation = tuple[int, int, int]


def operation_symbol(operation: str) -> str:
    """Accepts "+", "-", "/" or their names "add", "sub", "div"."""
    names = {name: symbol for symbol, name in OPERATIONS.items()}
    symbol = names.get(operation, operation)
    if symbol not in OPERATIONS:
        raise ValueError(f"operation must be one of {list(OPERATIONS)} or {list(names)}, not {operation!r}")
    return symbol


def answer(operation: str, a: int, b: int, p: int) -> int:
    op = operation_symbol(operation)
    if op == "+":
        return (a + b) % p
    if op == "-":
        return (a - b) % p
    if b % p == 0:
        raise ZeroDivisionError(f"{a}/{b} modulo {p}")
    return a * pow(b, p - 2, p) % p


def equations(operation: str, p: int) -> list[Equation]:
    """Every equation of the operation modulo p, each once, a-major order."""
    op = operation_symbol(operation)
    first_b = 1 if op == "/" else 0
    return [(a, b, answer(op, a, b, p)) for a in range(p) for b in range(first_b, p)]


def splits(operation: str, p: int, seed: int = 0, train_fraction: float = 0.5) -> dict[str, list[Equation]]:
    """{"train", "val", "test"}: disjoint, together every equation; deterministic in (seed, fraction)."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), not {train_fraction}")
    shuffled = equations(operation, p)
    random.Random(seed).shuffle(shuffled)
    n_train = int(train_fraction * len(shuffled))
    n_val = (len(shuffled) - n_train) // 2  # test gets the odd one out, so it is never empty
    return {
        "train": shuffled[:n_train],
        "val": shuffled[n_train : n_train + n_val],
        "test": shuffled[n_train + n_val :],
    }


# ---------------------------------------------------------------------------------------
# As text and as tokens
# ---------------------------------------------------------------------------------------


def equation_text(operation: str, equation: Equation) -> str:
    a, b, c = equation
    return f"{a}{operation_symbol(operation)}{b}={c}"


def parse_equation(text: str) -> tuple[str, Equation]:
    """"12/5=41" -> ("/", (12, 5, 41))."""
    left, c = text.split("=")
    for op in OPERATIONS:
        a, found, b = left.partition(op)
        if found:
            return op, (int(a), int(b), int(c))
    raise ValueError(f"not an equation: {text!r}")


def equation_tokens(operation: str, equation: Equation) -> list[int]:
    """[a, op, b, =, c]: five tokens, since each residue is one number token."""
    tokens = encode(equation_text(operation, equation))
    assert len(tokens) == 5 and tokens[-1] == number_id(equation[2]), "residues must be single tokens"
    return tokens


# ---------------------------------------------------------------------------------------
# Split files
# ---------------------------------------------------------------------------------------


def split_path(out_dir: Path, operation: str, p: int, split: str) -> Path:
    return Path(out_dir) / f"{OPERATIONS[operation_symbol(operation)]}_p{p}_{split}.txt"


def write_splits(out_dir: Path, seed: int = 0, train_fraction: float = 0.5) -> dict[tuple[str, int], dict[str, int]]:
    """One file per operation, p and split, one equation per line ("12/5=41"); returns the counts."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for op in OPERATIONS:
        for p in PRIMES:
            parts = splits(op, p, seed, train_fraction)
            for name, eqs in parts.items():
                split_path(out_dir, op, p, name).write_text("".join(equation_text(op, e) + "\n" for e in eqs))
            counts[op, p] = {name: len(eqs) for name, eqs in parts.items()}
    return counts


def read_split(path: Path) -> list[Equation]:
    return [parse_equation(line)[1] for line in Path(path).read_text().splitlines() if line]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out_dir", default=str(DATA_DIR))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train_fraction", type=float, default=0.5)
    args = parser.parse_args(argv)
    counts = write_splits(Path(args.out_dir), args.seed, args.train_fraction)
    print(f"seed {args.seed}, train_fraction {args.train_fraction}, files in {args.out_dir}")
    print(f"{'operation':>9} {'p':>4} {'total':>6} {'train':>6} {'val':>6} {'test':>6}")
    for (op, p), c in counts.items():
        print(f"{op:>9} {p:>4} {sum(c.values()):>6} {c['train']:>6} {c['val']:>6} {c['test']:>6}")


if __name__ == "__main__":
    main()
