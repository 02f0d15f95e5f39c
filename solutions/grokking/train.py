"""Training loop for the grokking assignment: modular arithmetic and the sanity texts.

    python -m solutions.grokking.train --config solutions/grokking/configs/grokking.toml
    python -m solutions.grokking.train --config solutions/grokking/configs/grokking.toml --seed=1 --optimizer=adamw
    python -m solutions.grokking.train --config solutions/grokking/configs/sanity.toml

Any field of TrainConfig can be overridden on the command line: --key=value or --key value.
A run writes into out_dir: config.json (the full config it ran with), log.jsonl (one JSON object
per evaluation: step, seconds, train and val loss and accuracy), periodic checkpoints
(ckpt_step<N>.pt: weights, optimizer state, step) and model.pt at the end (weights and config
only: what inference.py and adapters.predict load).

The file reads top to bottom: configuration, data as tensors, batches, the masked loss, the
optimizer (AdamW, optional Grokfast gradient filter), evaluation, checkpoints, the run, main().
"""

from __future__ import annotations

import json
import sys
import time
import typing
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F

from .data import equation_tokens, operation_symbol, splits
from .model import ModelConfig, Transformer
from .tokenizer import PAD, VOCAB_SIZE, encode

# ---------------------------------------------------------------------------------------
# Configuration: a dataclass, filled from a TOML file and then from --key=value overrides
# ---------------------------------------------------------------------------------------


@dataclass
class TrainConfig:
    # model (ModelConfig's fields)
    vocab_size: int = VOCAB_SIZE
    n_layer: int = 2
    n_head: int = 4
    d_model: int = 128
    d_ff: int = 512
    max_len: int = 8
    dropout: float = 0.0
    embedding_std: float = 1.0
    # data
    task: str = "arithmetic"  # "arithmetic": equations a<op>b=c; "text": memorise `text`
    operation: str = "/"  # "+", "-", "/" (or "add", "sub", "div")
    p: int = 97
    split_seed: int = 0  # the seed of data.splits: which equations are in train / val / test
    train_fraction: float = 0.5
    text: str = "I love machine learning"
    masked_prefix: int = 0  # text task: the first predictions (of tokens 1..masked_prefix) get no loss
    # optimisation
    batch_size: int = 512  # 0: full batch (every training example in every step)
    max_steps: int = 10_000
    lr: float = 3e-3
    warmup_steps: int = 10  # linear warmup from lr / warmup_steps, then constant
    weight_decay: float = 1.0  # AdamW's decoupled decay, on matrices and embeddings only
    beta1: float = 0.9
    beta2: float = 0.98
    grad_clip: float = 0.0  # 0: off
    optimizer: str = "adamw"  # "adamw", or "muon": Muon on the blocks' matrices, AdamW on the rest
    muon_lr: float = 0.02  # Muon's learning rate (its updates are orthogonalised, scale ~1 per entry)
    grokfast_alpha: float = 0.0  # Grokfast-EMA's filter momentum; 0 turns the filter off
    grokfast_lambda: float = 0.0  # how much of the filtered (slow) gradient is added back
    weight_norm: float = 0.0  # > 0: after every step, rescale the matrices to this x their initial norm
    # run
    seed: int = 0  # model initialisation, batch order, dropout
    threads: int = 0  # torch.set_num_threads; 0 leaves PyTorch's default (one per core)
    out_dir: str = "out/grokking"  # "" writes nothing (used by the tests, bench and adapters)
    eval_interval: int = 100  # evaluate every N steps and at the end; 0: never
    eval_train: bool = True  # also evaluate the whole train split (else: the last batch's numbers)
    stop_at_val_acc: float = 2.0  # stop at the first evaluation with val accuracy >= this (2: never)
    stop_at_train_loss: float = 0.0  # stop once a step's training loss is below this (0: never)
    ckpt_interval: int = 0  # 0: only the final model.pt
    print_interval: int = 1  # print every N-th evaluation

    def model_config(self) -> ModelConfig:
        return ModelConfig.from_dict(asdict(self))


def load_config(argv: list[str]) -> TrainConfig:
    """--config FILE.toml first, then every --key=value (or --key value) in order."""
    import tomllib

    overrides: dict[str, str] = {}
    config_file = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--"):
            raise SystemExit(f"unexpected argument {arg!r}; use --key=value")
        key, has_value, value = arg[2:].partition("=")
        if not has_value:  # --key value, or a bare --flag meaning true
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                value, i = argv[i + 1], i + 1
            else:
                value = "true"
        if key == "config":
            config_file = value
        else:
            overrides[key] = value
        i += 1

    values: dict = {}
    if config_file is not None:
        with open(config_file, "rb") as f:
            for key, value in tomllib.load(f).items():  # tables ([model], [data], ...) only group keys
                values.update(value if isinstance(value, dict) else {key: value})
    hints = typing.get_type_hints(TrainConfig)
    for key, text in overrides.items():
        if key not in hints:
            raise SystemExit(f"unknown option --{key}; the options are TrainConfig's fields")
        values[key] = _parse(text, hints[key])
    unknown = set(values) - set(hints)
    if unknown:
        raise SystemExit(f"unknown keys in {config_file}: {sorted(unknown)}")
    return TrainConfig(**values)


def _parse(text: str, hint):
    if hint is bool:
        if text.lower() not in ("true", "false", "1", "0"):
            raise SystemExit(f"expected true or false, got {text!r}")
        return text.lower() in ("true", "1")
    return hint(text)  # int, float or str


# ---------------------------------------------------------------------------------------
# Data: every example as one row of padded tensors
# ---------------------------------------------------------------------------------------


@dataclass
class Examples:
    tokens: torch.Tensor  # [N, T] inputs, PAD where attention_mask is False
    targets: torch.Tensor  # [N, T] the token after each input position
    loss_mask: torch.Tensor  # [N, T] True where the prediction counts in the loss
    attention_mask: torch.Tensor  # [N, T] True at real input tokens

    def __len__(self) -> int:
        return self.tokens.size(0)

    def __getitem__(self, index) -> "Examples":
        return Examples(self.tokens[index], self.targets[index], self.loss_mask[index], self.attention_mask[index])

    @property
    def answer_only(self) -> bool:
        """No padding, and only the last position's prediction counts: the equations' case, where
        the model can skip the other positions' outputs (Transformer's last_only)."""
        return bool(self.attention_mask.all()) and not bool(self.loss_mask[:, :-1].any())


def make_examples(sequences: list[list[int]], loss_masks: list[list[bool]], left_pad: bool = False) -> Examples:
    """Sequences of token ids (any lengths >= 2), each with a mask over its len - 1 predictions,
    right-padded (or left-padded) into tensors. Input t is sequence[t], its target sequence[t + 1]."""
    T = max(len(s) for s in sequences) - 1
    rows = {name: [] for name in ("tokens", "targets", "loss_mask", "attention_mask")}
    for seq, lm in zip(sequences, loss_masks):
        n = len(seq) - 1
        assert len(lm) == n, "one loss-mask entry per prediction"
        fill = T - n

        def pad(values, filler):
            return [filler] * fill + list(values) if left_pad else list(values) + [filler] * fill

        rows["tokens"].append(pad(seq[:-1], PAD))
        rows["targets"].append(pad(seq[1:], PAD))
        rows["loss_mask"].append(pad(lm, False))
        rows["attention_mask"].append(pad([True] * n, False))
    return Examples(
        tokens=torch.tensor(rows["tokens"], dtype=torch.long),
        targets=torch.tensor(rows["targets"], dtype=torch.long),
        loss_mask=torch.tensor(rows["loss_mask"], dtype=torch.bool),
        attention_mask=torch.tensor(rows["attention_mask"], dtype=torch.bool),
    )


def equation_examples(operation: str, equations) -> Examples:
    """"a/b=c" as inputs [a, /, b, =] and targets [/, b, =, c]; only the answer c is predicted
    (the loss on a, op, b would teach the model to guess random inputs, which is impossible)."""
    sequences = [equation_tokens(operation, e) for e in equations]
    return make_examples(sequences, [[False, False, False, True]] * len(sequences))


def text_examples(text: str, masked_prefix: int) -> Examples:
    ids = encode(text)
    return make_examples([ids], [[t >= masked_prefix for t in range(len(ids) - 1)]])


def make_data(cfg: TrainConfig) -> dict[str, Examples]:
    """{"train": ..., "val": ...} (and "test" for arithmetic) for the config's task."""
    if cfg.task == "arithmetic":
        parts = splits(cfg.operation, cfg.p, cfg.split_seed, cfg.train_fraction)
        return {name: equation_examples(cfg.operation, eqs) for name, eqs in parts.items()}
    if cfg.task == "text":
        examples = text_examples(cfg.text, cfg.masked_prefix)
        return {"train": examples, "val": examples}  # memorisation: there is nothing held out
    raise SystemExit(f"--task must be arithmetic or text, not {cfg.task!r}")


def batch_indices(n: int, batch_size: int, seed: int, step: int) -> torch.Tensor:
    """The examples of optimizer step `step`: a fresh seeded permutation every epoch, cut into
    batches; the last incomplete batch of an epoch is dropped (other examples each epoch).
    A pure function of the step, so a run is reproducible however it is interrupted."""
    if batch_size <= 0 or batch_size >= n:
        return torch.arange(n)  # full batch
    per_epoch = n // batch_size
    epoch, offset = divmod(step, per_epoch)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
    return order[offset * batch_size : (offset + 1) * batch_size]


# ---------------------------------------------------------------------------------------
# The loss over the masked-in predictions
# ---------------------------------------------------------------------------------------


def masked_loss(logits: torch.Tensor, targets: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the positions where loss_mask is True: their sum / their count.

    logits [B, T, V], targets [B, T], loss_mask [B, T]. Masked-out targets become ignore_index,
    so they add exactly nothing to the loss and get exactly zero gradient. (A mean over all
    positions would count the masked ones as zeros and shrink the loss by the fraction masked.)
    """
    targets = targets.masked_fill(~loss_mask, -100)
    total = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100, reduction="sum")
    return total / loss_mask.sum().clamp(min=1)


def predictions_loss(model: Transformer, batch: Examples) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, argmax predictions, correct) over the batch's masked-in positions.

    When only the last position counts (equations), the model computes only that position's
    output: the same loss, about a third less work per step (see model.py's last_only).
    """
    if batch.answer_only:
        logits = model(batch.tokens, last_only=True)[:, 0]  # [B, V]
        targets = batch.targets[:, -1]
        loss = F.cross_entropy(logits.float(), targets)
        predicted = logits.argmax(dim=-1)
        return loss, predicted, predicted == targets
    logits = model(batch.tokens, batch.attention_mask)
    loss = masked_loss(logits, batch.targets, batch.loss_mask)
    predicted = logits.argmax(dim=-1)
    return loss, predicted[batch.loss_mask], (predicted == batch.targets)[batch.loss_mask]


# ---------------------------------------------------------------------------------------
# Optimizer: AdamW, and Grokfast's gradient filter
# ---------------------------------------------------------------------------------------


class Optimizers:
    """Several optimizers stepped as one (Muon for the hidden matrices, AdamW for the rest)."""

    def __init__(self, *optimizers: torch.optim.Optimizer):
        self.optimizers = optimizers
        self.param_groups = [g for o in optimizers for g in o.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for o in self.optimizers:
            o.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for o in self.optimizers:
            o.step()

    def state_dict(self) -> list[dict]:
        return [o.state_dict() for o in self.optimizers]


def configure_optimizer(model: Transformer, cfg: TrainConfig):
    """AdamW with weight decay on matrices and embeddings (not biases or LayerNorm gains).

    Decoupled weight decay is what makes grokking happen at all in Power et al.'s experiments:
    the memorising solution has a larger weight norm than the generalising one, and decay keeps
    pulling the weights towards the smaller-norm, generalising solution.

    optimizer = "muon": the blocks' 2-D matrices (attention and MLP) use Muon (momentum whose
    update is orthogonalised by Newton-Schulz iterations, torch.optim.Muon); embeddings, the output
    layer, biases and LayerNorms keep AdamW, as Muon's authors prescribe. Tveit et al. (2025,
    arXiv:2504.16041) report Muon groks modular arithmetic sooner than AdamW.
    """
    named = list(model.named_parameters())
    hidden = [p for n, p in named if n.startswith("blocks.") and p.dim() == 2]
    if cfg.optimizer == "muon":
        rest = [p for n, p in named if not any(p is h for h in hidden)]
    elif cfg.optimizer == "adamw":
        hidden, rest = [], [p for _, p in named]
    else:
        raise ValueError(f"optimizer must be 'adamw' or 'muon', not {cfg.optimizer!r}")
    decay = [p for p in rest if p.dim() >= 2]
    no_decay = [p for p in rest if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    adamw = torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), foreach=True)
    if not hidden:
        return adamw
    muon = torch.optim.Muon(hidden, lr=cfg.muon_lr, weight_decay=cfg.weight_decay)
    for group in muon.param_groups:
        group["lr_scale"] = cfg.muon_lr / cfg.lr  # lr_at sets every group's lr; Muon's keeps its ratio
    return Optimizers(adamw, muon)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup over warmup_steps, then constant (as in Power et al.)."""
    return cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup_steps))


class GrokfastEMA:
    """Grokfast-EMA (Lee et al., 2024, arXiv:2405.20233): g <- g + lambda * EMA_alpha(g).

    The gradient's slow-moving component (its exponential moving average over steps) is the one
    that leads to the generalising solution; the fast, oscillating one mostly memorises. Adding
    the slow part back amplifies it lambda + 1 times. Applied after backward, before the step.
    """

    def __init__(self, params, alpha: float, lamb: float):
        self.params = [p for p in params if p.requires_grad]
        self.alpha, self.lamb = alpha, lamb
        self.averages = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def filter(self) -> None:
        grads = [p.grad for p in self.params]
        torch._foreach_lerp_(self.averages, grads, 1.0 - self.alpha)  # avg = alpha avg + (1 - alpha) g
        torch._foreach_add_(grads, self.averages, alpha=self.lamb)


class WeightNorm:
    """Hold the global norm of the matrices and embeddings at a fixed radius (Omnigrok: Liu et
    al., 2022, arXiv:2210.01117). Grokking is slow because memorising solutions have large
    weight norms and weight decay shrinks them only gradually; on the sphere of the right,
    smaller radius, the memorising solutions are out of reach and train and test accuracy rise
    together. radius = factor x the norm at initialisation."""

    def __init__(self, params, factor: float):
        self.params = [p for p in params if p.dim() >= 2]
        self.radius = factor * self.norm()

    def norm(self) -> float:
        return torch.linalg.vector_norm(torch.stack([p.detach().norm() for p in self.params])).item()

    @torch.no_grad()
    def project(self) -> None:
        torch._foreach_mul_(self.params, self.radius / self.norm())


# ---------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate(model: Transformer, examples: Examples, batch_size: int = 8192) -> dict[str, float]:
    """Mean loss and accuracy over the masked-in predictions of every example (one equation is
    one prediction, so this is the fraction of equations answered right)."""
    was_training = model.training
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    for start in range(0, len(examples), batch_size):
        batch = examples[start : start + batch_size]
        loss, _, right = predictions_loss(model, batch)
        loss_sum += loss.item() * right.numel()
        correct += int(right.sum())
        count += right.numel()
    model.train(was_training)
    return {"loss": loss_sum / max(1, count), "acc": correct / max(1, count)}


# ---------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------


def save_checkpoint(path: str | Path, model: Transformer, cfg: TrainConfig, step: int, optimizer=None) -> None:
    """Weights (float32) and the config, plus the optimizer state when given (to resume)."""
    state = {"config": asdict(cfg), "model": model.state_dict(), "step": step}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: a reader never sees half a file


def load_checkpoint(path: str | Path) -> tuple[Transformer, TrainConfig]:
    """The model (in eval mode) and the config it was trained with. A folder means its model.pt."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    state = torch.load(path, map_location="cpu", weights_only=True)  # plain tensors only, never code
    names = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in state["config"].items() if k in names})
    model = Transformer(cfg.model_config())
    model.load_state_dict(state["model"])
    return model.eval(), cfg


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------


def train_run(cfg: TrainConfig, data: dict[str, Examples] | None = None, quiet: bool = False) -> dict:
    """Train as cfg says; returns {"model", "history" (the logged records), "losses" (every
    step's training loss), "steps", "seconds", "step_to_target" (the first evaluated step with
    val accuracy >= stop_at_val_acc, or None)}. Writes to cfg.out_dir unless it is ""."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)  # initialisation and dropout; batch order has its own generator
    data = make_data(cfg) if data is None else data
    model = Transformer(cfg.model_config())
    optimizer = configure_optimizer(model, cfg)
    grokfast = GrokfastEMA(model.parameters(), cfg.grokfast_alpha, cfg.grokfast_lambda) if cfg.grokfast_alpha else None
    weight_norm = WeightNorm(model.parameters(), cfg.weight_norm) if cfg.weight_norm else None
    if weight_norm is not None:
        weight_norm.project()  # start on the sphere

    out = Path(cfg.out_dir) if cfg.out_dir else None
    log = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
        log = open(out / "log.jsonl", "w")

    history, losses = [], []
    step_to_target = None
    train = data["train"]
    started = time.perf_counter()
    model.train()
    step = 0
    batch_loss = batch_acc = float("nan")  # the last training batch's numbers
    while True:
        # Evaluate after `step` optimizer steps (step 0: the initial model).
        last = step >= cfg.max_steps or batch_loss < cfg.stop_at_train_loss
        if cfg.eval_interval and (step % cfg.eval_interval == 0 or last):
            record = {"step": step, "seconds": round(time.perf_counter() - started, 3)}
            if cfg.eval_train or step == 0:
                record |= {f"train_{k}": v for k, v in evaluate(model, train).items()}
            else:
                record |= {"train_loss": batch_loss, "train_acc": batch_acc}
            record |= {f"val_{k}": v for k, v in evaluate(model, data["val"]).items()}
            record["eval_seconds"] = round(time.perf_counter() - started - record["seconds"], 3)
            history.append(record)
            if log is not None:
                log.write(json.dumps(record) + "\n")
                log.flush()
            if not quiet and (len(history) - 1) % cfg.print_interval == 0:
                print(
                    f"step {step:6d}  {record['seconds']:8.1f}s  train loss {record['train_loss']:.4f} "
                    f"acc {record['train_acc']:.4f}  val loss {record['val_loss']:.4f} acc {record['val_acc']:.4f}",
                    flush=True,
                )
            if record["val_acc"] >= cfg.stop_at_val_acc:
                step_to_target = step
                break
        if last:
            break

        batch = train[batch_indices(len(train), cfg.batch_size, cfg.seed, step)]
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg) * group.get("lr_scale", 1.0)
        loss, _, right = predictions_loss(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grokfast is not None:
            grokfast.filter()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        if weight_norm is not None:
            weight_norm.project()
        batch_loss, batch_acc = loss.item(), right.float().mean().item()
        losses.append(batch_loss)
        step += 1

        if out is not None and cfg.ckpt_interval and step % cfg.ckpt_interval == 0:
            save_checkpoint(out / f"ckpt_step{step}.pt", model, cfg, step, optimizer)

    seconds = time.perf_counter() - started
    if out is not None:
        save_checkpoint(out / "model.pt", model, cfg, step)  # weights and config only
        log.close()
    if not quiet and step_to_target is not None:
        print(f"val accuracy >= {cfg.stop_at_val_acc} at step {step_to_target}, {seconds:.1f} s")
    return {
        "model": model.eval(),
        "history": history,
        "losses": losses,
        "steps": step,
        "seconds": seconds,
        "step_to_target": step_to_target,
        "data": data,
    }


def main(argv: list[str] | None = None) -> None:
    cfg = load_config(sys.argv[1:] if argv is None else argv)
    if cfg.task == "arithmetic":
        cfg.operation = operation_symbol(cfg.operation)
    print(f"training {cfg.task} ({cfg.operation} mod {cfg.p}) for up to {cfg.max_steps} steps -> {cfg.out_dir}")
    result = train_run(cfg)
    if "test" in result["data"]:
        test = evaluate(result["model"], result["data"]["test"])
        print(f"test loss {test['loss']:.4f} acc {test['acc']:.4f}")
        if cfg.out_dir:
            with open(Path(cfg.out_dir) / "log.jsonl", "a") as log:
                log.write(json.dumps({"step": result["steps"], "test_loss": test["loss"], "test_acc": test["acc"]}) + "\n")


if __name__ == "__main__":
    main()
