"""Training loops for the encoder-decoder (2.1.4) and the decoder-only model (2.2, 2.3), and the
translation of the test sentence. The commands train_nmt, train_decoder and scaling call these."""

import math
import random
import time

import torch
import torch.nn.functional as F

from . import data
from .models import DecoderConfig, EncoderDecoder, Seq2SeqConfig, TransformerDecoder, generate_tensors_for_training_decoder

# ---------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------


def seq2seq_loss(model: EncoderDecoder, source, target):
    """Mean cross-entropy of the translation (teacher forcing: the decoder reads SOS + target[:-1])."""
    start = torch.full((target.size(0), 1), data.SOS_ID, dtype=torch.long)
    logits = model(source, torch.cat([start, target[:, :-1]], dim=1))
    return F.cross_entropy(logits.flatten(0, 1), target.flatten())


def decoder_loss(model: TransformerDecoder, source, target):
    """Mean cross-entropy over the translation part only: predicting the source word (which the
    model only reads) is not the task. source ends with EOS in the batches; the decoder-only
    format separates source and translation with EOP instead."""
    src_eop = torch.cat([source[:, :-1], torch.full((source.size(0), 1), data.EOP_ID)], dim=1)
    inputs, targets = generate_tensors_for_training_decoder(src_eop, target, data.SOS_ID)
    logits, _ = model(inputs)
    translation = slice(src_eop.size(1), None)
    return F.cross_entropy(logits[:, translation].flatten(0, 1), targets[:, translation].flatten())


# ---------------------------------------------------------------------------------------
# One loop for both models
# ---------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate(model, loss_fn, words: list[str], batch_size: int = 256) -> float:
    """Mean loss per translated token over words."""
    model.eval()
    total, count = 0.0, 0
    for source, target in data.batches(words, batch_size):
        total += loss_fn(model, source, target).item() * target.numel()
        count += target.numel()
    model.train()
    return total / count


def train(model, loss_fn, train_words, val_words, *, epochs=None, max_tokens=None, lr=3e-3, batch_size=32,
          seed=0, evals=20, quiet=False) -> dict:
    """Adam with a cosine decay, until `epochs` passes or `max_tokens` input tokens (whichever is
    given). Returns the curves {"step", "tokens", "train_loss", "val_loss"} and the best val loss."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    steps_per_epoch = sum(1 for _ in data.batches(train_words, batch_size))
    tokens_per_epoch = sum(len(w) + len(data.pig_latin_word(w)) + 2 for w in train_words)  # decoder-only inputs
    if max_tokens is not None:
        total_steps = max(1, round(max_tokens / tokens_per_epoch * steps_per_epoch))
    else:
        total_steps = epochs * steps_per_epoch
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps)))
    eval_every = max(1, total_steps // evals)
    history = {"step": [], "tokens": [], "train_loss": [], "val_loss": []}
    step, tokens, running, start = 0, 0, [], time.time()
    model.train()
    while step < total_steps:
        for source, target in data.batches(train_words, batch_size, rng):
            loss = loss_fn(model, source, target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            tokens += source.numel() + target.numel()  # the decoder-only input length
            running.append(loss.item())
            if step % eval_every == 0 or step == total_steps:
                history["step"].append(step)
                history["tokens"].append(tokens)
                history["train_loss"].append(sum(running) / len(running))
                history["val_loss"].append(evaluate(model, loss_fn, val_words))
                running = []
                if not quiet:
                    print(f"step {step:5d}/{total_steps}  train {history['train_loss'][-1]:.4f}  "
                          f"val {history['val_loss'][-1]:.4f}  ({time.time() - start:.0f}s)", flush=True)
            if step == total_steps:
                break
    history["best_val_loss"] = min(history["val_loss"])
    history["seconds"] = time.time() - start
    return history


# ---------------------------------------------------------------------------------------
# Translating sentences word by word
# ---------------------------------------------------------------------------------------


def translate_sentence(model, sentence: str) -> str:
    model.eval()
    words = sentence.split()
    out = []
    for w in words:
        ids = torch.tensor([data.encode(w)])
        if isinstance(model, TransformerDecoder):
            ids = torch.cat([ids, torch.tensor([[data.EOP_ID]])], dim=1)
        else:
            ids = torch.cat([ids, torch.tensor([[data.EOS_ID]])], dim=1)
        out.append(data.decode(model.translate(ids, data.SOS_ID, data.EOS_ID)[0]))
    return " ".join(out)


def word_accuracy(model, words: list[str]) -> float:
    """Fraction of words translated exactly."""
    return sum(translate_sentence(model, w) == data.pig_latin_word(w) for w in words) / len(words)


def build_seq2seq(hidden_size: int, seed: int) -> EncoderDecoder:
    torch.manual_seed(seed)
    return EncoderDecoder(Seq2SeqConfig(vocab_size=data.VOCAB_SIZE, hidden_size=hidden_size))


def build_decoder(hidden_size: int, num_layers: int, seed: int) -> TransformerDecoder:
    torch.manual_seed(seed)
    return TransformerDecoder.from_config(DecoderConfig(data.VOCAB_SIZE, hidden_size, num_layers))
