"""The GPT-2 grader's own reference code, the real-weights path, and the sample command."""

import xml.etree.ElementTree as ET

import pytest
import torch

from grader.gpt2 import reference
from grader.run import grade
from solutions.gpt2 import hf, sample
from solutions.gpt2.model import GPT, GPTConfig
from solutions.gpt2.tokenizer import decode, encode

from .conftest import ROOT

TINY_FULL_VOCAB = reference.config_dict(n_positions=64, n_embd=32, n_layer=2, n_head=4)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A GPT-2 with the real vocabulary but tiny layers, saved as Hugging Face saves the real one."""
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    model = reference.hf_model(TINY_FULL_VOCAB, seed=5, std=0.2)
    model.save_pretrained(folder)
    return folder, model


@pytest.mark.parametrize("n_layer,n_head,n_embd", [(1, 1, 8), (2, 4, 32), (12, 12, 768)])
def test_the_parameter_formula_counts_hugging_faces_gpt2(n_layer, n_head, n_embd):
    config = reference.config_dict(n_layer=n_layer, n_head=n_head, n_embd=n_embd)
    model = reference.hf_model(config, seed=0) if n_embd < 768 else None
    want = sum(p.numel() for p in model.parameters()) if model is not None else 124_439_808
    assert reference.parameter_count(config) == want


@pytest.mark.parametrize("options", [{"rope": True}, {"n_kv_head": 2}, {"n_kv_head": 1, "rope": True, "window": 4}])
def test_the_parameter_formula_counts_the_options(options):
    config = reference.config_dict(vocab_size=101, n_positions=16, n_embd=32, n_layer=2, n_head=4, **options)
    assert reference.parameter_count(config) == GPT(GPTConfig.from_dict(config)).num_parameters()


@pytest.mark.parametrize("pairing", reference.PAIRINGS)
def test_the_reference_rotary_turns_each_pair_by_position_times_frequency(pairing):
    x = torch.randn(3, 8, dtype=torch.float64)
    out = reference.rotary(x, torch.arange(3), pairing=pairing)
    assert torch.allclose(out[0], x[0])  # position 0 is the identity
    assert torch.allclose(out.norm(dim=-1), x.norm(dim=-1))
    first = (0, 4) if pairing == "half-split" else (0, 1)  # the fastest-turning pair
    a, b = x[1, first[0]], x[1, first[1]]  # position 1, frequency 1: a rotation by 1 radian
    c, s = torch.cos(torch.tensor(1.0, dtype=torch.float64)), torch.sin(torch.tensor(1.0, dtype=torch.float64))
    assert torch.allclose(out[1, list(first)], torch.stack([a * c - b * s, a * s + b * c]))


def test_the_real_weights_checks_run_where_weights_are_found(tiny_checkpoint, tmp_path):
    folder, _ = tiny_checkpoint
    run = grade(ROOT / "solutions", tmp_path, ["gpt2"], extra_args=["-k", "real"], env={"GPT2_WEIGHTS_DIR": str(folder)}, timeout=600)
    cases = ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    outcomes = {case.get("name"): [child.tag for child in case] for case in cases}
    assert sorted(outcomes) == [
        "test_real_gpt2_greedy_generation_equals_hugging_faces", "test_real_gpt2_logits_equal_hugging_faces", "test_real_gpt2_sample_prediction",
    ], run.output
    assert all(children == [] for children in outcomes.values()), run.output  # passed: no failure or skipped element


def test_without_weights_the_real_weights_checks_skip_and_say_why(tmp_path):
    run = grade(ROOT / "solutions", tmp_path, ["gpt2"], extra_args=["-k", "real"], env={"GPT2_WEIGHTS_DIR": str(tmp_path / "none")}, timeout=600)
    assert "no real GPT-2 weights on this machine" in run.output


def test_the_sample_command_continues_the_prompt_as_hugging_face_does(tiny_checkpoint, capsys):
    folder, model = tiny_checkpoint
    prompt = "The quick brown fox"
    assert sample.main(["--checkpoint", str(folder), "--prompt", prompt, "--greedy", "--max-new-tokens", "12"]) == 0
    want = reference.hf_generate(model, torch.tensor([encode(prompt)]), 12)[0].tolist()
    assert capsys.readouterr().out == decode(want) + "\n"


def test_a_checkpoint_round_trips_through_the_hugging_face_layout(tiny_checkpoint):
    folder, _ = tiny_checkpoint
    model = hf.load_checkpoint(folder)
    again = hf.build(TINY_FULL_VOCAB, hf.to_hf_state_dict(model))
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name
