"""Problem 5.3: the sweep configuration in Weights & Biases' format, and the random search that
draws runs from it. The sampler is also given sweep configs the grader makes up, so it must draw
from the lists it is given (a random search over exactly the grid), not from values of its own.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks import fail

GRID = {
    "learning_rate": [0.0001, 0.00025, 0.0005, 0.001],
    "optimizer": ["adam", "sgd"],
    "clip": [0, 25, 50, 100],
    "teacher_forcing_ratio": [0, 0.5, 1.0],
    "decoder_learning_ratio": [1.0, 3.0, 5.0, 10.0],
}


def config(adapters) -> dict:
    got = adapters.sweep_config()
    if not isinstance(got, dict):
        fail(f"sweep_config() returned {type(got).__name__}; expected a dict in W&B's sweep format")
    return got


def same_values(got: list, want: list) -> bool:
    def norm(v):
        return v.strip().lower() if isinstance(v, str) else float(v)

    try:
        return sorted(map(norm, got), key=str) == sorted(map(norm, want), key=str)
    except (TypeError, ValueError):
        return False


@pytest.mark.rubric("p5.sweep_config")
def test_the_sweep_is_a_random_search_minimising_the_loss(adapters):
    c = config(adapters)
    if c.get("method") != "random":
        fail(f"sweep_config()['method'] is {c.get('method')!r}; the problem asks for W&B's random search: 'random'")
    metric = c.get("metric")
    if not isinstance(metric, dict) or metric.get("goal") != "minimize" or "loss" not in str(metric.get("name", "")).lower():
        fail(f"sweep_config()['metric'] is {metric!r}; expected the loss, minimised: {{'name': 'loss', 'goal': 'minimize'}}")


@pytest.mark.rubric("p5.sweep_config")
@pytest.mark.parametrize("name", list(GRID))
def test_each_parameter_takes_exactly_the_grids_values(adapters, name):
    parameters = config(adapters).get("parameters")
    entry = parameters.get(name) if isinstance(parameters, dict) else None
    values = entry.get("values") if isinstance(entry, dict) else None
    if not isinstance(values, list):
        fail(f"sweep_config()['parameters'][{name!r}] is {entry!r}; expected {{'values': {GRID[name]}}}")
    if not same_values(values, GRID[name]):
        fail(f"sweep_config()['parameters'][{name!r}]['values'] is {values}; expected {GRID[name]}")


@st.composite
def grids(draw):
    """A sweep config of numbers and strings the grader makes up: the sampler must use what it is given."""
    names = draw(st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta"]), min_size=1, max_size=4, unique=True))
    values = st.one_of(st.lists(st.integers(-50, 50), min_size=1, max_size=5, unique=True),
                       st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4, unique=True),
                       st.lists(st.floats(1e-5, 1.0), min_size=1, max_size=4, unique=True))
    return {"method": "random", "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {n: {"values": draw(values)} for n in names}}


def sample(adapters, c: dict, count: int, seed: int) -> tuple[list[dict], str]:
    what = f"sample_sweep({c if len(str(c)) < 300 else 'the grid of 5.3'}, count={count}, seed={seed})"
    got = adapters.sample_sweep(c, count, seed)
    if not isinstance(got, list) or len(got) != count or not all(isinstance(r, dict) for r in got):
        fail(f"{what} returned {type(got).__name__}; expected a list of {count} dicts")
    return got, what


@pytest.mark.rubric("p5.sweep_config", weight=2)
@settings(max_examples=3)
@given(c=grids(), seed=st.integers(0, 2**16))
def test_runs_take_only_values_from_the_grid(adapters, c, seed):
    runs, what = sample(adapters, c, 20, seed)
    for i, run in enumerate(runs):
        for name, spec in c["parameters"].items():
            if name not in run or run[name] not in spec["values"]:
                fail(f"{what}: run {i} has {name} = {run.get(name, 'nothing')!r}, not one of {spec['values']}")


@pytest.mark.rubric("p5.sweep_config", weight=2)
def test_random_search_reaches_every_value_of_the_grid(adapters):
    c = {"method": "random", "metric": {"name": "loss", "goal": "minimize"}, "parameters": {n: {"values": v} for n, v in GRID.items()}}
    runs, what = sample(adapters, c, 300, 0)
    for name, values in GRID.items():
        drawn = [r.get(name) for r in runs]
        unseen = [v for v in values if v not in drawn]
        if unseen:
            fail(f"{what}: 300 runs never draw {name} = {unseen}; random search picks each value with probability "
                 f"1/{len(values)} per run")
        off_grid = sorted({repr(v) for v in drawn if v not in values})
        if off_grid:
            fail(f"{what}: runs draw {name} = {', '.join(off_grid[:3])}, outside the grid {values}")


@pytest.mark.rubric("p5.sweep_config")
def test_the_same_seed_gives_the_same_runs(adapters):
    c = {"method": "random", "parameters": {n: {"values": v} for n, v in GRID.items()}}
    first, what = sample(adapters, c, 10, 3)
    again, _ = sample(adapters, c, 10, 3)
    if first != again:
        fail(f"{what} gave different runs in two calls; a seeded sweep must repeat")
