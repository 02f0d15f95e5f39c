"""2.1.4: the attention encoder-decoder at two model sizes on two data sizes.

    python -m solutions.attention_scaling.train_nmt            # about 2 minutes on one thread
    python -m solutions.attention_scaling.train_nmt --epochs 2 --out /tmp/nmt   # a quick check

Writes results/nmt_runs.json (curves and best validation losses), results/nmt_curves.png and
results/nmt_translations.txt (the test sentence and validation words, by each run).
"""

import argparse
import json
from pathlib import Path

import torch

from . import data, plots
from .train import build_seq2seq, seq2seq_loss, train, translate_sentence, word_accuracy

HERE = Path(__file__).parent
SIZES = {"small": 24, "large": 64}  # hidden sizes
DATA = {"quarter": 0.25, "all": 1.0}  # fractions of the training words


def main():
    parser = argparse.ArgumentParser(description="train the attention encoder-decoder (2.1.4)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train_words, val_words = data.split_words(data.load_words())
    runs, lines = {}, [f"reference: {data.TEST_SENTENCE} -> {data.TEST_TRANSLATION}", ""]
    for data_name, fraction in DATA.items():
        words = train_words[: int(fraction * len(train_words))]
        words = words + [w for w in data.TEST_SENTENCE.split() if w not in words]
        for size_name, hidden in SIZES.items():
            name = f"h{hidden} / {data_name} data ({len(words)} words)"
            print(f"--- {name}", flush=True)
            model = build_seq2seq(hidden, args.seed)
            # The same number of optimizer steps for both data sizes: more epochs on less data.
            epochs = round(args.epochs / fraction)
            history = train(model, seq2seq_loss, words, val_words, epochs=epochs, seed=args.seed)
            history["val_word_accuracy"] = word_accuracy(model, val_words[:200])
            runs[name] = history
            lines.append(f"{name}: best val loss {history['best_val_loss']:.4f}, "
                         f"val word accuracy {history['val_word_accuracy']:.1%}")
            lines.append(f"  {data.TEST_SENTENCE} -> {translate_sentence(model, data.TEST_SENTENCE)}")
            sample = " ".join(val_words[:8])
            lines.append(f"  {sample} -> {translate_sentence(model, sample)}")
            lines.append(f"  (expected: {data.pig_latin(sample)})")
    (out / "nmt_runs.json").write_text(json.dumps(runs, indent=1))
    (out / "nmt_translations.txt").write_text("\n".join(lines) + "\n")
    plots.curves(runs, out / "nmt_curves.png", "GRU encoder-decoder with attention")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
