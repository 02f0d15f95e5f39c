"""Part 3: BERT for sentence classification, on "verbal arithmetic".

    python -m solutions.attention_scaling.bert            # frozen vs unfrozen fine-tuning (about 30 seconds)
    python -m solutions.attention_scaling.bert --epochs 1 --out /tmp/bert   # a quick check

No pretrained BERT can be downloaded here, so the encoder is a small BertModel built from a
BertConfig. To keep the frozen/unfrozen comparison meaningful it is first "pretrained" for a short
while with masked-language modelling on arithmetic sentences with the labels withheld (the
encoder learns the words, not the task), then fine-tuned two ways on a small labelled set: with
the encoder frozen (only the pooler and the classifier learn) and with every weight trained.
Writes results/bert_runs.json and results/bert_curves.png.
"""

import argparse
import json
import random
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertForMaskedLM, BertModel

HERE = Path(__file__).parent

NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
           "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
OPERATIONS = {"plus": 1, "minus": -1}
LABELS = ["negative", "zero", "positive"]
VOCAB = ["[PAD]", "[CLS]", "[SEP]", "[MASK]"] + NUMBERS + list(OPERATIONS)
TOKEN_ID = {w: i for i, w in enumerate(VOCAB)}


class BertForSentenceClassification(BertModel):
    """BertModel plus a linear classifier on the pooled [CLS] output, and a cross-entropy loss."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, labels=None, **kwargs):
        """kwargs go to BertModel (input_ids, attention_mask, ...). Returns (logits, loss) when labels
        [B] are given, else (logits,); logits [B, num_labels]."""
        outputs = super().forward(**kwargs)
        logits = self.classifier(outputs.pooler_output)
        if labels is None:
            return (logits,)
        loss = F.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
        return logits, loss


# ---------------------------------------------------------------------------------------
# Verbal arithmetic
# ---------------------------------------------------------------------------------------


def label_of(a: int, operation: str, b: int) -> int:
    """0 negative, 1 zero, 2 positive: the sign of a (op) b."""
    value = a + OPERATIONS[operation] * b
    return 0 if value < 0 else 1 if value == 0 else 2


def sentences() -> list[tuple[str, int]]:
    """Every "a op b" with a, b in zero..twenty and its label (882 sentences)."""
    return [(f"{NUMBERS[a]} {op} {NUMBERS[b]}", label_of(a, op, b))
            for a in range(len(NUMBERS)) for op in OPERATIONS for b in range(len(NUMBERS))]


def encode(sentence: str) -> list[int]:
    return [TOKEN_ID["[CLS]"]] + [TOKEN_ID[w] for w in sentence.split()] + [TOKEN_ID["[SEP]"]]


def tensors(examples):
    """(input_ids [N, 5], attention_mask [N, 5], labels [N]); every sentence has 3 words."""
    ids = torch.tensor([encode(s) for s, _ in examples])
    return ids, torch.ones_like(ids), torch.tensor([label for _, label in examples])


def small_config(**overrides) -> BertConfig:
    settings = dict(vocab_size=len(VOCAB), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=128, max_position_embeddings=16, num_labels=len(LABELS))
    return BertConfig(**{**settings, **overrides})


# ---------------------------------------------------------------------------------------
# Pretraining and fine-tuning
# ---------------------------------------------------------------------------------------


def pretrain(config: BertConfig, examples, steps: int, seed: int) -> dict:
    """Masked-language modelling on the sentences (labels unused); returns the encoder's weights."""
    torch.manual_seed(seed)
    model = BertForMaskedLM(config)
    ids, mask, _ = tensors(examples)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = ids[torch.randint(0, len(ids), (64,), generator=g)]
        chosen = torch.zeros_like(batch, dtype=torch.bool)
        chosen[torch.arange(len(batch)), torch.randint(1, 4, (len(batch),), generator=g)] = True  # one word each
        inputs = batch.masked_fill(chosen, TOKEN_ID["[MASK]"])
        loss = model(input_ids=inputs, attention_mask=torch.ones_like(batch), labels=batch.masked_fill(~chosen, -100)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {k.removeprefix("bert."): v for k, v in model.state_dict().items() if k.startswith("bert.")}


def fine_tune(config, encoder_weights, train_set, val_set, *, freeze: bool, epochs: int, seed: int) -> dict:
    torch.manual_seed(seed)
    model = BertForSentenceClassification(config)
    model.load_state_dict(encoder_weights, strict=False)  # the classifier and pooler keep their init
    if freeze:  # the pretrained encoder stays as it is; the pooler and the classifier learn
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith(("pooler.", "classifier."))
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-3)
    ids, mask, labels = tensors(train_set)
    val_ids, val_mask, val_labels = tensors(val_set)
    rng = random.Random(seed)
    history = {"epoch": [], "train_loss": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(1, epochs + 1):
        model.train()
        order = list(range(len(ids)))
        rng.shuffle(order)
        losses = []
        for i in range(0, len(order), 32):
            batch = torch.tensor(order[i : i + 32])
            _, loss = model(input_ids=ids[batch], attention_mask=mask[batch], labels=labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            logits, val_loss = model(input_ids=val_ids, attention_mask=val_mask, labels=val_labels)
        history["epoch"].append(epoch)
        history["train_loss"].append(sum(losses) / len(losses))
        history["val_loss"].append(val_loss.item())
        history["val_accuracy"].append((logits.argmax(-1) == val_labels).float().mean().item())
    history["trainable_parameters"] = sum(p.numel() for p in trainable)
    history["best_val_loss"] = min(history["val_loss"])
    history["best_val_accuracy"] = max(history["val_accuracy"])
    return history


def main():
    parser = argparse.ArgumentParser(description="fine-tune a small BERT on verbal arithmetic, frozen and unfrozen")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--pretrain_steps", type=int, default=300)
    parser.add_argument("--train_size", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    examples = sentences()
    random.Random(args.seed).shuffle(examples)
    val_set, train_set = examples[:200], examples[200 : 200 + args.train_size]
    config = small_config()
    encoder = pretrain(config, examples, args.pretrain_steps, args.seed)
    runs = {}
    for freeze in (True, False):
        name = "frozen encoder" if freeze else "all weights trained"
        runs[name] = fine_tune(config, encoder, train_set, val_set, freeze=freeze, epochs=args.epochs, seed=args.seed)
        h = runs[name]
        print(f"{name}: {h['trainable_parameters']} trainable parameters, best val accuracy "
              f"{h['best_val_accuracy']:.1%}, best val loss {h['best_val_loss']:.4f}", flush=True)
    (out / "bert_runs.json").write_text(json.dumps(runs, indent=1))
    from .plots import plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for i, (name, h) in enumerate(runs.items()):
        axes[0].plot(h["epoch"], h["train_loss"], "--", color=f"C{i}", alpha=0.6)
        axes[0].plot(h["epoch"], h["val_loss"], "-", color=f"C{i}", label=name)
        axes[1].plot(h["epoch"], h["val_accuracy"], "-", color=f"C{i}", label=name)
    axes[0].set_xlabel("epoch"), axes[0].set_ylabel("cross-entropy (dashed: train)"), axes[0].legend()
    axes[1].set_xlabel("epoch"), axes[1].set_ylabel("validation accuracy"), axes[1].legend()
    fig.suptitle("Small BERT on verbal arithmetic: frozen vs unfrozen encoder")
    fig.tight_layout()
    fig.savefig(out / "bert_curves.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
