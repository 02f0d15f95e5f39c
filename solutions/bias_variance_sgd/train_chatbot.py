"""Problem 5.1: train the chatbot (the tutorial's training loop) on CPU, one thread.

    python -m solutions.bias_variance_sgd.train_chatbot                    # about a minute
    python -m solutions.bias_variance_sgd.train_chatbot --cornell PATH     # the Cornell files in PATH
    python -m solutions.bias_variance_sgd.train_chatbot --iterations 3000 --learning_rate 0.001

The loop is the tutorial's: one optimizer for the encoder and one for the decoder (whose learning
rate is decoder_learning_ratio times larger), teacher forcing decided per batch with probability
teacher_forcing_ratio, gradients clipped to norm `clip` before each step. As in the tutorial's
code, clip = 0 clips every gradient to norm 0: nothing is learned (the sweep shows it).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from . import corpus
from .chatbot import ChatbotConfig, Seq2Seq, greedy_search, masked_loss

RESULTS = Path(__file__).parent / "results"


@dataclass
class TrainConfig:
    hidden_size: int = 64
    encoder_n_layers: int = 1
    decoder_n_layers: int = 1
    attn_model: str = "dot"
    dropout: float = 0.1
    batch_size: int = 32
    iterations: int = 1500
    learning_rate: float = 0.001
    optimizer: str = "adam"  # "adam" or "sgd"
    clip: float = 50.0
    teacher_forcing_ratio: float = 1.0
    decoder_learning_ratio: float = 5.0
    validation_pairs: int = 200
    seed: int = 0
    threads: int = 1


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; expected adam or sgd")


@torch.no_grad()
def validation_loss(model: Seq2Seq, vocabulary, pairs, batch_size: int) -> float:
    """Teacher-forced masked loss over the held-out pairs (the mean over their real tokens)."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(pairs), batch_size):
        batch = corpus.make_batch(vocabulary, pairs[start : start + batch_size])
        logits = model(batch.inputs, batch.lengths, batch.targets, teacher_forcing=True)
        n = int(batch.mask.sum())
        total += masked_loss(logits, batch.targets, batch.mask).item() * n
        count += n
    model.train()
    return total / count


def train(cfg: TrainConfig, cornell: Path | None = None, log_every: int = 0) -> dict:
    """Train from scratch; returns the model, the vocabulary, the losses and the validation loss."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)  # batches and teacher-forcing coin flips
    vocabulary, pairs, name = corpus.load(cornell)
    pairs = pairs[:]
    random.Random(1234).shuffle(pairs)  # the same held-out pairs for every run of a sweep
    held_out, pairs = pairs[: cfg.validation_pairs], pairs[cfg.validation_pairs :]
    model = Seq2Seq(ChatbotConfig(vocab_size=len(vocabulary), **{
        f.name: getattr(cfg, f.name) for f in fields(ChatbotConfig) if f.name != "vocab_size"}))
    encoder_params = list(model.encoder.parameters())  # includes the shared embedding
    decoder_params = [p for n, p in model.decoder.named_parameters() if not n.startswith("embedding.")]
    encoder_optimizer = make_optimizer(cfg.optimizer, encoder_params, cfg.learning_rate)
    decoder_optimizer = make_optimizer(cfg.optimizer, decoder_params, cfg.learning_rate * cfg.decoder_learning_ratio)
    losses = []
    start = time.time()
    model.train()
    for iteration in range(1, cfg.iterations + 1):
        batch = corpus.make_batch(vocabulary, [rng.choice(pairs) for _ in range(cfg.batch_size)])
        teacher_forcing = rng.random() < cfg.teacher_forcing_ratio
        logits = model(batch.inputs, batch.lengths, batch.targets, teacher_forcing)
        loss = masked_loss(logits, batch.targets, batch.mask)
        encoder_optimizer.zero_grad()
        decoder_optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(encoder_params, cfg.clip)
        torch.nn.utils.clip_grad_norm_(decoder_params, cfg.clip)
        encoder_optimizer.step()
        decoder_optimizer.step()
        losses.append(loss.item())
        if log_every and iteration % log_every == 0:
            recent = sum(losses[-log_every:]) / log_every
            print(f"iteration {iteration:5d}  loss {recent:.4f}  ({time.time() - start:.0f} s)", flush=True)
    model.eval()
    return {
        "model": model, "vocabulary": vocabulary, "corpus": name, "losses": losses,
        "final_loss": sum(losses[-50:]) / len(losses[-50:]),  # the sweep's metric: the end of training
        "validation_loss": validation_loss(model, vocabulary, held_out, cfg.batch_size),
        "seconds": time.time() - start,
    }


def reply(model: Seq2Seq, vocabulary, sentence: str) -> str:
    words = corpus.normalize(sentence)
    if any(w not in vocabulary.word2index for w in words.split(" ")):
        return "(a word I do not know)"
    tokens, _ = greedy_search(model, vocabulary.encode(words), corpus.MAX_LENGTH)
    return vocabulary.decode(tokens)


SAMPLE_QUERIES = ["hello .", "how are you ?", "what color is the sky ?", "what color is the rose ?",
                  "do you like music ?", "say red cat .", "say moon river star .", "who made you ?"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for f in fields(TrainConfig):
        parser.add_argument(f"--{f.name}", type=type(f.default), default=f.default)
    parser.add_argument("--cornell", type=Path, default=None, help="folder holding the Cornell corpus files")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    result = train(cfg, args.cornell, log_every=100)
    model, vocabulary = result["model"], result["vocabulary"]
    print(f"corpus: {result['corpus']}; final training loss {result['final_loss']:.4f}, "
          f"validation loss {result['validation_loss']:.4f}, {result['seconds']:.0f} s")
    conversation = [(q, reply(model, vocabulary, q)) for q in SAMPLE_QUERIES]
    for q, a in conversation:
        print(f"> {q}\nBot: {a}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "p5_training.json").write_text(json.dumps({
        "config": asdict(cfg), "corpus": result["corpus"], "losses": [round(x, 4) for x in result["losses"]],
        "final_loss": result["final_loss"], "validation_loss": result["validation_loss"],
        "seconds": round(result["seconds"], 1), "conversation": conversation,
    }, indent=1) + "\n")


if __name__ == "__main__":
    main()
