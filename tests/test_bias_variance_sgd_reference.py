"""The bias_variance_sgd reference solution (solutions/bias_variance_sgd/) tested on its own: the
fits, the protocols, the simulator against the handout's numbers, staleness, the chatbot's parts,
the sweep, the committed results and the adapters against specs/bias_variance_sgd/adapters.py.

That the reference scores full marks on every automatic item is checked by tests/test_reference.py,
which grades every assignment's reference; these tests are the cheap checks of the code itself.
"""

import importlib.util
import inspect
import json
import tomllib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from solutions.bias_variance_sgd import adapters, bias_variance, corpus, parameter_server, scaling, sweep
from solutions.bias_variance_sgd.chatbot import Attn, masked_loss
from solutions.bias_variance_sgd.train_chatbot import TrainConfig, train

from .conftest import ROOT

PACKAGE = ROOT / "solutions" / "bias_variance_sgd"
TIMES = parameter_server.LEARNER_TIMES

# Problem 1 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("degree", [1, 5, 10, 15])
def test_fits_reproduce_polynomials_to_near_machine_precision(degree):
    rng = np.random.default_rng(degree)
    beta = rng.normal(size=degree + 1) / 5.0 ** np.arange(degree + 1)  # monomials on [0, 10], kept O(1)
    x, x_eval = rng.uniform(0, 10, 40), np.linspace(0, 10, 33)
    got = bias_variance.fit_predict(x, np.polyval(beta[::-1], x), degree, 0.0, x_eval)
    np.testing.assert_allclose(got, np.polyval(beta[::-1], x_eval), atol=1e-8 * np.abs(np.polyval(beta[::-1], x_eval)).max())


def test_ridge_shrinks_towards_the_mean_and_zero_penalty_is_least_squares():
    x, y = bias_variance.sample_dataset(40, seed=0)
    x_eval = np.linspace(0, 10, 20)
    plain = bias_variance.fit_predict(x, y, 10, 0.0, x_eval)
    huge = bias_variance.fit_predict(x, y, 10, 1e9, x_eval)
    np.testing.assert_allclose(bias_variance.fit_predict(x, y, 10, 1e-14, x_eval), plain, atol=1e-8)
    np.testing.assert_allclose(huge, np.full(20, y.mean()), atol=1e-6)  # only the intercept is unpenalised


def test_the_noise_is_variance_0_3():
    x, y = bias_variance.sample_dataset(200_000, seed=1)
    assert abs(np.var(y - bias_variance.f(x)) - 0.3) < 0.005


def test_the_protocols_share_what_they_should():
    fixed_x = bias_variance.draw_datasets("fixed_x", 20, 0)
    assert (fixed_x.x_train == fixed_x.x_train[0]).all() and (fixed_x.y_train != fixed_x.y_train[0]).any()
    fixed_test = bias_variance.draw_datasets("fixed_test", 100, 0)
    assert (fixed_test.y_test == fixed_test.y_test[0]).all()
    assert not np.isin(fixed_test.x_train, fixed_test.x_test[0]).any()
    assert all(len(set(row)) == 40 for row in fixed_test.x_train)  # without replacement


def test_the_committed_study_shows_the_trade_off():
    table = json.loads((PACKAGE / "results" / "p1_bias_variance.json").read_text())
    for protocol in ("fixed_x", "fixed_test"):
        t = table[protocol]
        assert t["bias2"][0] > 10 * min(t["bias2"]) and t["variance"][-1] > 5 * t["variance"][0]
        reg, plain = t["degree10_l2"], {k: t[k][9] for k in ("bias2", "variance")}
        assert reg["bias2"] > plain["bias2"] and reg["variance"] < plain["variance"]


# Problems 2-4 ----------------------------------------------------------------------------------


def test_the_scaling_table_and_the_answers_agree():
    answers = tomllib.loads((PACKAGE / "answers.toml").read_text())["p2"]
    for row in scaling.scaling_table():
        n = f"n{row['servers']}"
        for key, name in [("epoch_s", "epoch_seconds"), ("throughput", "throughput"), ("efficiency", "efficiency"), ("speedup", "speedup")]:
            assert answers[name][n] == pytest.approx(row[key], rel=1e-5)
    best, increase = scaling.cheapest(scaling.costs(scaling.scaling_table()))
    assert (best["servers"], best["dollars"], increase) == (1, pytest.approx(179.2), 0.0)


@pytest.mark.parametrize("convention, want", [
    ("consumed", {"sync": 8.0, "k_sync": 5.7, "k_batch_sync": 5.8, "async": 2.5, "k_batch_async": 4.7}),
    ("redone", {"sync": 8.0, "k_sync": 6.5, "k_batch_sync": 6.4, "async": 2.5, "k_batch_async": 4.7}),
])
def test_the_third_updates_are_the_issues(convention, want):
    got = {a: parameter_server.simulate(a, TIMES, k, 3, convention)[-1] for a, k in parameter_server.PROBLEM_3}
    assert got == pytest.approx(want)


schedule = st.tuples(st.integers(1, 5), st.integers(0, 2**16), st.integers(1, 4))


@settings(max_examples=40, deadline=None)
@given(schedule=schedule)
def test_simulator_properties(schedule):
    learners, seed, updates = schedule
    times = np.random.default_rng(seed).uniform(0.2, 3, (learners, 4 * learners * updates + 4)).tolist()
    sync = parameter_server.simulate("sync", times, 0, updates)
    assert parameter_server.simulate("k_sync", times, learners, updates) == pytest.approx(sync)
    merged = sorted(t for row in times for t in np.cumsum(row))
    assert parameter_server.simulate("async", times, 0, updates) == pytest.approx(merged[:updates])
    for k in (1,):
        for name in ("k_async", "k_batch_async"):
            assert parameter_server.simulate(name, times, k, updates) == pytest.approx(merged[:updates])
    slower = times + [[t * 2 for t in times[0]]]
    assert all(a >= b for a, b in zip(parameter_server.simulate("sync", slower, 0, updates), sync))
    for convention in parameter_server.CONVENTIONS:  # waiting for fewer never takes longer
        assert all(a <= b + 1e-12 for a, b in zip(parameter_server.simulate("k_sync", times, 1, 1, convention), sync))


def test_staleness_of_the_handout_and_of_one_learner():
    assert parameter_server.staleness(parameter_server.PUSH_TIMES) == [[0, 0, 1, 0], [2, 2]]
    assert parameter_server.staleness([[1.0, 2.0, 3.0]]) == [[0, 0, 0]]
    assert parameter_server.staleness([[1.0], [1.0]]) == [[0], [1]]  # a tie: the lower index first


# Problem 5 ----------------------------------------------------------------------------------------


def test_attention_weights_are_a_softmax_over_time():
    torch.manual_seed(0)
    for method in ("dot", "general", "concat"):
        weights = Attn(method, 6)(torch.randn(1, 3, 6), torch.randn(5, 3, 6))
        assert weights.shape == (3, 1, 5)
        torch.testing.assert_close(weights.sum(-1), torch.ones(3, 1))


def test_the_masked_loss_ignores_padding():
    logits, targets = torch.randn(4, 2, 7), torch.randint(3, 7, (4, 2))
    mask = torch.tensor([[1, 1], [1, 1], [1, 0], [0, 0]], dtype=torch.bool)
    want = torch.nn.functional.cross_entropy(logits[mask], targets[mask])
    torch.testing.assert_close(masked_loss(logits, targets, mask), want)
    torch.testing.assert_close(masked_loss(logits + 5 * (~mask)[..., None], targets, mask), want)


def test_greedy_search_stops_at_eos_and_takes_each_steps_argmax():
    config, query = {"vocab_size": 9, "hidden_size": 8, "attn_model": "general"}, [3, 4, corpus.EOS]
    for seed in range(6):
        tokens = adapters.greedy_decode(config, seed, query, 6)
        assert corpus.EOS not in tokens[:-1] and (len(tokens) == 6 or tokens[-1] == corpus.EOS)
        for i, token in enumerate(tokens):
            assert int(adapters.next_token_scores(config, seed, query, tokens[:i]).argmax()) == token
        assert adapters.greedy_decode(config, seed, query, 6) == tokens


def test_the_cornell_reader_pairs_consecutive_lines(tmp_path):
    sep = " +++$+++ "
    (tmp_path / "movie_lines.txt").write_text("\n".join(sep.join(["L1", "u0", "m0", "A", "Hello there!"]) if i == 0 else
                                                        sep.join([f"L{i + 1}", "u1", "m0", "B", ["Hi.", "How are you?"][i - 1]])
                                                        for i in range(3)) + "\n", encoding="iso-8859-1")
    (tmp_path / "movie_conversations.txt").write_text(sep.join(["u0", "u1", "m0", "['L1', 'L2', 'L3']"]) + "\n")
    assert corpus.cornell_pairs(tmp_path) == [("hello there !", "hi ."), ("hi .", "how are you ?")]
    _, _, name = corpus.load(tmp_path)
    assert name.startswith("Cornell")


def test_a_short_training_run_learns():
    result = train(TrainConfig(iterations=60, hidden_size=32))
    assert result["final_loss"] < result["losses"][0] - 1.0


def test_the_sweep_draws_from_the_grid_and_the_analysis_ranks_every_parameter():
    runs = sweep.sample_runs(sweep.SWEEP_CONFIG, 200, 0)
    for name, spec in sweep.SWEEP_CONFIG["parameters"].items():
        assert {r[name] for r in runs} == set(spec["values"])
    assert sweep.eta_squared(["a", "a", "b", "b"], [1.0, 1.0, 3.0, 3.0]) == pytest.approx(1.0)
    assert sweep.spearman([1, 2, 3], [3.0, 2.0, 1.0]) == pytest.approx(-1.0)
    committed = json.loads((PACKAGE / "results" / "p5_sweep.json").read_text())
    assert len(committed["runs"]) >= 20 and {r["parameter"] for r in committed["importance"]} == set(sweep.SWEEP_CONFIG["parameters"])


# The package --------------------------------------------------------------------------------------


def test_every_adapter_of_the_spec_is_implemented_with_its_signature():
    spec_file = importlib.util.spec_from_file_location("bvs_spec", ROOT / "specs" / "bias_variance_sgd" / "adapters.py")
    spec = importlib.util.module_from_spec(spec_file)
    spec_file.loader.exec_module(spec)
    names = [n for n, f in vars(spec).items() if inspect.isfunction(f) and f.__module__ == spec.__name__]
    assert len(names) == 12
    for name in names:
        assert inspect.signature(getattr(adapters, name)) == inspect.signature(getattr(spec, name)), name


def test_the_package_imports_only_itself():
    for path in PACKAGE.glob("*.py"):
        source = path.read_text()
        assert "from solutions" not in source and "import solutions" not in source and "grader" not in source, path


def test_the_answers_template_has_every_key_of_the_answer_key():
    template = tomllib.loads((ROOT / "specs" / "bias_variance_sgd" / "answers.toml").read_text())
    key = tomllib.loads((ROOT / "specs" / "bias_variance_sgd" / "answer_key.toml").read_text())

    def leaves(node, prefix=""):
        for name, value in node.items():
            if isinstance(value, dict) and "type" not in value:
                yield from leaves(value, f"{prefix}{name}.")
            else:
                yield f"{prefix}{name}"

    def lookup(tree, dotted):
        for part in dotted.split("."):
            tree = tree[part]
        return tree

    for dotted in leaves(key):
        lookup(template, dotted)  # raises KeyError when the template lacks it
