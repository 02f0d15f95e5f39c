"""The attention_scaling reference solution (solutions/attention_scaling/) tested on its own: the
Pig Latin data, attention, the decoder, the scaling fits, the BERT head, a few steps of each
training loop, and its adapters against specs/attention_scaling/adapters.py. The grader's own
checks of it run in tests/test_reference.py."""

import importlib.util
import inspect
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from solutions.attention_scaling import adapters, bert, data, scaling, train
from solutions.attention_scaling.attention import CausalScaledDotAttention, ScaledDotAttention, positional_encodings
from solutions.attention_scaling.models import TransformerDecoder, generate_tensors_for_training_decoder

from .conftest import ROOT

PACKAGE = ROOT / "solutions" / "attention_scaling"

# ---------------------------------------------------------------------------------------
# Pig Latin data
# ---------------------------------------------------------------------------------------


def test_the_handouts_examples():
    assert data.pig_latin(data.TEST_SENTENCE) == data.TEST_TRANSLATION == "ethay airway onditioningcay isway orkingway"
    examples = {"air": "airway", "the": "ethay", "conditioning": "onditioningcay", "working": "orkingway",
                "string": "ingstray", "well-known": "ellway-ownknay", "a": "away"}
    for word, want in examples.items():
        assert data.pig_latin_word(word) == want


@given(st.text("bcdfghjklmnpqrstvwxyz", max_size=4), st.sampled_from("aeiou"), st.text("abcdefghijklmnopqrstuvwxyz", max_size=6))
def test_the_rules_on_any_word(cluster, vowel, rest):
    word = cluster + vowel + rest
    translated = data.pig_latin_word(word)
    if cluster:
        assert translated == vowel + rest + cluster + "ay"  # the whole leading cluster moves
    else:
        assert translated == word + "way"


def test_the_word_list_and_the_vocabulary():
    words = data.load_words()
    assert len(words) > 2000 and words == sorted(set(words))
    assert set(data.TEST_SENTENCE.split()) <= set(words)
    assert all(2 <= len(w) <= 12 and set(w) <= set("abcdefghijklmnopqrstuvwxyz-") for w in words)
    train_words, val_words = data.split_words(words)
    assert not set(train_words) & set(val_words) and sorted(train_words + val_words) == words
    assert data.VOCAB_SIZE == 30  # the handout's sweep counts parameters with a vocabulary of 30
    assert data.decode(data.encode("air-way") + [data.EOS_ID, 5]) == "air-way"


def test_batches_group_words_by_length_without_padding():
    for source, target in data.batches(data.load_words()[:300], 16):
        assert (source[:, -1] == data.EOS_ID).all() and (target[:, -1] == data.EOS_ID).all()
        for s, t in zip(source, target):
            assert data.pig_latin_word(data.decode(s.tolist())) == data.decode(t.tolist())


# ---------------------------------------------------------------------------------------
# Attention, positions, the decoder
# ---------------------------------------------------------------------------------------


def test_two_dimensional_queries_are_one_query_each():
    torch.manual_seed(0)
    attention = ScaledDotAttention(8)
    q, kv = torch.randn(3, 8), torch.randn(3, 5, 8)
    context, weights = attention(q, kv, kv)
    context3, weights3 = attention(q[:, None], kv, kv)
    assert context.shape == (3, 1, 8) and weights.shape == (3, 1, 5)
    torch.testing.assert_close((context, weights), (context3, weights3))
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 1))


@pytest.mark.parametrize("length", [1, 7, 300])
def test_causal_attention_is_lower_triangular_at_any_length(length):
    torch.manual_seed(0)
    x = torch.randn(1, length, 4)
    _, weights = CausalScaledDotAttention(4)(x, x, x)
    assert (weights[0].triu(1) == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(1, length))


def test_positional_encodings():
    pe = positional_encodings(1000, 16)
    assert pe.shape == (1000, 16) and pe.dtype == torch.float32
    assert pe[0, 0::2].eq(0).all() and pe[0, 1::2].eq(1).all()
    assert math.isclose(pe[3, 4].item(), math.sin(3 / 10000 ** (4 / 16)), abs_tol=1e-6)
    assert math.isclose(pe[3, 5].item(), math.cos(3 / 10000 ** (4 / 16)), abs_tol=1e-6)


def test_training_tensors_for_the_decoder():
    src, tgt = torch.tensor([[5, 6, 2]]), torch.tensor([[7, 8, 9, 1]])
    inputs, targets = generate_tensors_for_training_decoder(src, tgt, 0)
    assert inputs.tolist() == [[0, 5, 6, 2, 7, 8, 9]] and targets.tolist() == [[5, 6, 2, 7, 8, 9, 1]]


@pytest.mark.parametrize("h", scaling.HIDDEN_SIZES)
def test_the_sweeps_parameter_count(h):
    assert TransformerDecoder(30, h, 4).non_embedding_parameters() == scaling.non_embedding_params(h) == 16 * h * h + 46 * h + 30


def test_the_decoder_is_causal_and_stacks_its_layers_weights():
    torch.manual_seed(0)
    model = TransformerDecoder(30, 16, 3).eval()
    tokens = torch.randint(0, 30, (2, 9))
    logits, weights = model(tokens)
    assert logits.shape == (2, 9, 30) and weights.shape == (3, 2, 9, 9)
    changed = tokens.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % 30
    torch.testing.assert_close(model(changed)[0][:, :5], logits[:, :5])


# ---------------------------------------------------------------------------------------
# Scaling fits
# ---------------------------------------------------------------------------------------


def test_find_optimal_params_on_an_exact_parabola():
    x = [scaling.non_embedding_params(h) for h in scaling.HIDDEN_SIZES]
    u = np.log10(x)
    coefficients, optimal = scaling.find_optimal_params(x, 0.3 * (u - 4.5) ** 2 + 1.2)
    np.testing.assert_allclose(coefficients, [0.3, -2.7, 0.3 * 4.5**2 + 1.2], rtol=1e-9)
    assert math.isclose(optimal, 10**4.5, rel_tol=1e-9)
    # Outside the sampled range: the nearer end.
    assert scaling.find_optimal_params(x, (u - 7) ** 2)[1] == pytest.approx(x[-1])
    assert scaling.find_optimal_params(x, (u - 2) ** 2)[1] == pytest.approx(x[0])
    # A parabola opening downwards: the end where the fit is lower.
    assert scaling.find_optimal_params(x, -((u - 4.0) ** 2))[1] == pytest.approx(x[-1])


def test_fit_linear_log_and_the_estimate():
    budgets = scaling.BUDGETS
    m, c = scaling.fit_linear_log(budgets, [10 ** (0.5 * math.log10(b) - 1) for b in budgets])
    assert (m, c) == (pytest.approx(0.5), pytest.approx(-1))
    rows = [{"budget": b, "params": n, "val_loss": (math.log10(n) - (0.5 * math.log10(b) - 1)) ** 2}
            for b in budgets for n in [10**k for k in (3.5, 4, 4.5, 5, 5.5)]]
    fits = scaling.fit(rows)
    assert fits["m"] == pytest.approx(0.5) and fits["target_params"] == pytest.approx(10**6.5)
    assert fits["target_tokens"] == pytest.approx(1e15 / (6 * 10**6.5))


# ---------------------------------------------------------------------------------------
# BERT
# ---------------------------------------------------------------------------------------


def test_verbal_arithmetic():
    examples = bert.sentences()
    assert len(examples) == 21 * 21 * 2
    assert ("three minus five", 0) in examples and ("five minus five", 1) in examples and ("zero plus one", 2) in examples
    ids, mask, labels = bert.tensors(examples[:4])
    assert ids.shape == (4, 5) and mask.all() and labels.dtype == torch.int64


def test_bert_head_returns_logits_then_loss():
    config = bert.small_config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    torch.manual_seed(0)
    model = bert.BertForSentenceClassification(config).eval()
    ids, mask, labels = bert.tensors(bert.sentences()[:6])
    (logits,) = model(input_ids=ids, attention_mask=mask)
    same, loss = model(input_ids=ids, attention_mask=mask, labels=labels)
    pooled = super(bert.BertForSentenceClassification, model).forward(input_ids=ids, attention_mask=mask).pooler_output
    torch.testing.assert_close(logits, model.classifier(pooled))
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(same, labels))


# ---------------------------------------------------------------------------------------
# Training loops (a few steps) and commands
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["seq2seq", "decoder"])
def test_a_few_training_steps_lower_the_loss(kind):
    torch.set_num_threads(1)
    words = data.load_words()[:200]
    if kind == "seq2seq":
        model, loss_fn = train.build_seq2seq(16, seed=0), train.seq2seq_loss
    else:
        model, loss_fn = train.build_decoder(16, 2, seed=0), train.decoder_loss
    before = train.evaluate(model, loss_fn, words)
    history = train.train(model, loss_fn, words, words, epochs=2, lr=5e-3, quiet=True, evals=2)
    assert history["val_loss"][-1] < before - 0.3
    assert len(train.translate_sentence(model, data.TEST_SENTENCE).split()) == 5


def test_the_data_command(tmp_path):
    run = subprocess.run([sys.executable, "-m", "solutions.attention_scaling.data", "--out", str(tmp_path / "w.txt")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert data.TEST_TRANSLATION in run.stdout and len((tmp_path / "w.txt").read_text().split()) > 2000


def test_the_recorded_results_translate_the_test_sentence():
    for name in ("nmt_translations.txt", "decoder_translations.txt"):
        assert f"{data.TEST_SENTENCE} -> {data.TEST_TRANSLATION}" in (PACKAGE / "results" / name).read_text(), name


# ---------------------------------------------------------------------------------------
# The adapters
# ---------------------------------------------------------------------------------------


def _spec():
    spec = importlib.util.spec_from_file_location("attention_scaling_spec", ROOT / "specs" / "attention_scaling" / "adapters.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_adapter_of_the_spec_is_implemented_with_its_parameters():
    spec = _spec()
    names = [n for n, f in vars(spec).items() if inspect.isfunction(f) and f.__module__ == spec.__name__]
    assert len(names) == 12
    for name in names:
        mine = inspect.signature(getattr(adapters, name)).parameters
        assert list(mine) == list(inspect.signature(getattr(spec, name)).parameters), name
        with pytest.raises(NotImplementedError):
            getattr(spec, name)(*[None] * len(mine))


def test_the_package_imports_only_itself():
    for path in PACKAGE.glob("*.py"):
        source = path.read_text()
        assert "from solutions" not in source and "import solutions" not in source and "grader" not in source, path


def test_the_answers_template_holds_every_key_the_grader_reads():
    import tomllib

    from grader.rubric import load_rubric

    spec = ROOT / "specs" / "attention_scaling"
    template = tomllib.loads((spec / "answers.toml").read_text())
    mine = tomllib.loads((PACKAGE / "answers.toml").read_text())
    key = tomllib.loads((spec / "answer_key.toml").read_text())
    dotted = [f"{q}.{name}" for q, entries in key.items() for name in entries]
    dotted += [item.explanation for item in load_rubric(spec / "rubric.toml").items if item.explanation]
    for path in dotted:
        section, name = path.split(".")
        assert template[section][name] == "", path  # present, and empty until a student answers
        assert mine[section][name], path
