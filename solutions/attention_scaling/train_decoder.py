"""2.2: the decoder-only transformer trained on the Pig Latin pairs.

    python -m solutions.attention_scaling.train_decoder        # about a minute on one thread
    python -m solutions.attention_scaling.train_decoder --epochs 1 --out /tmp/dec   # a quick check

Writes results/decoder_run.json, results/decoder_curves.png and results/decoder_translations.txt.
"""

import argparse
import json
from pathlib import Path

import torch

from . import data, plots
from .train import build_decoder, decoder_loss, train, translate_sentence, word_accuracy

HERE = Path(__file__).parent


def main():
    parser = argparse.ArgumentParser(description="train the decoder-only transformer (2.2)")
    parser.add_argument("--hidden_size", type=int, default=64)
    parser.add_argument("--num_layers", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train_words, val_words = data.split_words(data.load_words())
    model = build_decoder(args.hidden_size, args.num_layers, args.seed)
    history = train(model, decoder_loss, train_words, val_words, epochs=args.epochs, lr=2e-3, seed=args.seed)
    history["val_word_accuracy"] = word_accuracy(model, val_words[:200])
    history["non_embedding_parameters"] = model.non_embedding_parameters()
    name = f"decoder-only h{args.hidden_size} x {args.num_layers} layers"
    sample = " ".join(val_words[:8])
    lines = [
        f"{name}: best val loss {history['best_val_loss']:.4f}, val word accuracy {history['val_word_accuracy']:.1%}",
        f"  {data.TEST_SENTENCE} -> {translate_sentence(model, data.TEST_SENTENCE)}",
        f"  (expected: {data.TEST_TRANSLATION})",
        f"  {sample} -> {translate_sentence(model, sample)}",
        f"  (expected: {data.pig_latin(sample)})",
    ]
    (out / "decoder_run.json").write_text(json.dumps(history, indent=1))
    (out / "decoder_translations.txt").write_text("\n".join(lines) + "\n")
    plots.curves({name: history}, out / "decoder_curves.png", "Decoder-only transformer")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
