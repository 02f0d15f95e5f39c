"""Parts 2.2 and 2.3: the submitted checkpoints answer their held-out equations.

The grader reads trained_checkpoints(), regenerates the split each model was trained on with the
submission's own splits(), keeps the test equations whose (a, b) is not in train, computes their
answers itself, asks predict() for the model's answers and counts. The submission's equations'
answers are never used, so a bug in them costs data.equations only.
"""

from pathlib import Path

import pytest

from grader.checks import fail

from . import reference
from .common import as_splits

THRESHOLD = 0.99
DELIVERABLES = {  # name: (allowed operations, allowed p)
    "warmup": (("+", "-"), (97, 113)),
    "grokking": (("/",), (97,)),
}
FIELDS = {"path": str, "operation": str, "p": int, "seed": int, "train_fraction": (float, int)}


def read_entry(adapters, submission, name: str) -> dict:
    """trained_checkpoints()[name], with every field checked; the checkpoint must exist."""
    got = adapters.trained_checkpoints()
    what = "trained_checkpoints()"
    if not isinstance(got, dict):
        fail(f"{what} returned {type(got).__name__}; expected a dict {{'warmup': {{...}}, 'grokking': {{...}}}}")
    if name not in got:
        fail(f"{what} has no {name!r} entry (it has {sorted(map(str, got))}); expected 'warmup' and 'grokking'")
    entry, what = got[name], f"{what}[{name!r}]"
    if not isinstance(entry, dict):
        fail(f"{what} is {type(entry).__name__}; expected a dict with the keys {', '.join(FIELDS)}")
    for key, kind in FIELDS.items():
        if key not in entry:
            fail(f"{what} has no {key!r}; expected the keys {', '.join(FIELDS)}")
        if not isinstance(entry[key], kind) or isinstance(entry[key], bool):
            fail(f"{what}[{key!r}] is {entry[key]!r}; expected {'a number' if key == 'train_fraction' else f'a {kind.__name__}'}")
    operations, primes = DELIVERABLES[name]
    if entry["operation"] not in operations or entry["p"] not in primes:
        fail(f"{what} is for {entry['operation']!r} modulo {entry['p']}; the {name} checkpoint must be for "
             f"{' or '.join(map(repr, operations))} modulo {' or '.join(map(str, primes))}")
    if not 0 < entry["train_fraction"] < 1:
        fail(f"{what}['train_fraction'] is {entry['train_fraction']}; expected a fraction between 0 and 1")
    folder = Path(submission.folder).resolve()
    path = (folder / entry["path"]).resolve()
    if folder not in path.parents:
        fail(f"{what}['path'] is {entry['path']!r}, which is not inside your submission folder; name it relative to "
             f"SUBMISSION/{submission.assignment}/")
    if not path.exists():
        fail(f"{what}['path'] is {entry['path']!r}, but SUBMISSION/{submission.assignment}/{entry['path']} does not exist; "
             "submit the checkpoint file (or folder) there")
    return entry


def held_out_pairs(adapters, entry: dict) -> list[tuple[int, int]]:
    """The (a, b) of the test split that are valid and not in train, in the split's order."""
    op, p, seed, fraction = (entry[k] for k in ("operation", "p", "seed", "train_fraction"))
    what = f"splits({op!r}, {p}, seed={seed}, train_fraction={fraction})"
    parts = as_splits(adapters.splits(op, p, seed, fraction), what)
    train = {(a, b) for a, b, _ in parts["train"]}
    valid = reference.left_hand_sides(op, p)
    pairs = list(dict.fromkeys((a, b) for a, b, _ in parts["test"] if (a, b) in valid and (a, b) not in train))
    if not pairs:
        fail(f"{what}['test'] holds no equation that is not also in 'train': nothing is held out to measure the checkpoint on")
    return pairs


def check_accuracy(adapters, submission, name: str) -> None:
    entry = read_entry(adapters, submission, name)
    op, p, path = entry["operation"], entry["p"], entry["path"]
    pairs = held_out_pairs(adapters, entry)
    what = f"predict({path!r}, {op!r}, {p}, {len(pairs)} held-out (a, b) pairs)"
    got = adapters.predict(path, op, p, pairs)
    if not isinstance(got, list):
        fail(f"{what} returned {type(got).__name__}; expected a list of {len(pairs)} ints, one answer per pair (.tolist() a tensor)")
    if len(got) != len(pairs):
        fail(f"{what} returned {len(got)} answers for {len(pairs)} pairs; expected one answer per pair, in order")
    odd = [(i, c) for i, c in enumerate(got) if type(c) is not int]
    if odd:
        i, c = odd[0]
        fail(f"{what}: answer {i} is {c!r} ({type(c).__name__}); expected ints")
    want = [reference.answer(op, a, b, p) for a, b in pairs]
    wrong = [(a, b, c, w) for (a, b), c, w in zip(pairs, got, want) if c != w]
    accuracy = 1 - len(wrong) / len(pairs)
    if accuracy < THRESHOLD:
        examples = "; ".join(f"{reference.text(op, a, b, c)} (right: {w})" for a, b, c, w in wrong[:3])
        fail(f"the {name} checkpoint {path!r} answers {len(pairs) - len(wrong)} of {len(pairs)} held-out equations "
             f"of {op!r} modulo {p} right ({accuracy:.2%}); at least {THRESHOLD:.0%} earns the item. Wrong, for example: {examples}")


@pytest.mark.rubric("warmup.checkpoint")
def test_the_warmup_checkpoint_answers_its_held_out_equations(adapters, submission):
    check_accuracy(adapters, submission, "warmup")


@pytest.mark.rubric("grokking.checkpoint")
def test_the_grokking_checkpoint_answers_its_held_out_equations(adapters, submission):
    check_accuracy(adapters, submission, "grokking")
