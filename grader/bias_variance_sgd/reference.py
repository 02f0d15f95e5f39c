"""The grader's own computations for the bias_variance_sgd assignment: the true function, the
parameter server's update times under each algorithm and both cancellation conventions, the
staleness of asynchronous gradients, Luong attention scores and the masked cross-entropy.
Nothing here comes from the reference solution it checks.
"""

from __future__ import annotations

import numpy as np

NOISE_VARIANCE = 0.3
LEARNER_TIMES = [  # problem 3, ms
    [1.5, 0.9, 2.5, 1.2, 1.8, 0.9],
    [3.0, 2.5, 1.7, 3.0, 0.7, 0.8],
    [2.5, 1.5, 0.7, 0.9, 2.0, 2.2],
]
PUSH_TIMES = [[1.0, 2.0, 3.0, 4.0], [2.5, 5.0]]  # problem 4, seconds
STALENESS = [[0, 0, 1, 0], [2, 2]]
PAD, SOS, EOS = 0, 1, 2


def f(x):
    return x + np.sin(1.5 * x)


# ---------------------------------------------------------------------------------------
# Problem 3: update times
# ---------------------------------------------------------------------------------------


def update_times(algorithm: str, times: list[list[float]], k: int, updates: int, redo_cancelled: bool = False) -> list[float]:
    """Times of the first `updates` updates. redo_cancelled: a cancelled mini-batch is started
    again (its time is spent once more) instead of using up its entry."""
    if algorithm == "sync":
        rounds = [max(row[r] for row in times) for r in range(updates)]
        return [float(t) for t in np.cumsum(rounds)]
    if algorithm in ("async", "k_batch_async"):
        step = 1 if algorithm == "async" else k
        finished = sorted(t for row in times for t in np.cumsum(row))
        return [float(finished[step * (u + 1) - 1]) for u in range(updates)]
    if algorithm == "k_sync":
        return _sync_rounds(times, k, updates, redo_cancelled, batches_per_learner=1)
    if algorithm == "k_batch_sync":
        return _sync_rounds(times, k, updates, redo_cancelled, batches_per_learner=k)
    if algorithm == "k_async":
        return _k_async(times, k, updates)
    raise ValueError(algorithm)


def _sync_rounds(times, k, updates, redo_cancelled, batches_per_learner):
    """Rounds that end at the k-th finished mini-batch; each learner runs up to
    batches_per_learner mini-batches back to back in a round (1: K-sync, k: K-batch-sync)."""
    position = [0] * len(times)
    start, out = 0.0, []
    for _ in range(updates):
        events = []  # (finish time, learner, the entry it finishes)
        for learner, row in enumerate(times):
            clock = start
            for entry in range(position[learner], position[learner] + batches_per_learner):
                clock += row[entry]
                events.append((clock, learner, entry))
        events.sort()
        end = events[k - 1][0]
        for learner in range(len(times)):
            mine = [t for t, who, _ in events[:k] if who == learner]  # its mini-batches in the update
            last_finish = mine[-1] if mine else start
            # Still computing at the update: it had a mini-batch left to run and started it before the end.
            in_progress = len(mine) < batches_per_learner and last_finish < end
            position[learner] += len(mine) + (1 if in_progress and not redo_cancelled else 0)
        start = end
        out.append(end)
    return out


def _k_async(times, k, updates):
    """A learner that pushed waits for the update that uses its gradient, then starts again."""
    clock_of = {i: row[0] for i, row in enumerate(times)}  # learners computing: finish time
    used = [1] * len(times)
    pushed, out = [], []
    while len(out) < updates:
        learner = min(clock_of, key=lambda i: (clock_of[i], i))
        now = clock_of.pop(learner)
        pushed.append(learner)
        if len(pushed) == k:
            out.append(now)
            for i in pushed:
                clock_of[i] = now + times[i][used[i]]
                used[i] += 1
            pushed = []
    return out


# ---------------------------------------------------------------------------------------
# Problem 4: staleness
# ---------------------------------------------------------------------------------------


def staleness(finish_times: list[list[float]]) -> list[list[int]]:
    """Updates applied between each gradient's read and its own update (ties: lower learner first)."""
    order = sorted((t, learner, j) for learner, row in enumerate(finish_times) for j, t in enumerate(row))
    out = [[0] * len(row) for row in finish_times]
    update_index = {}  # (learner, j) -> the number of that update (1, 2, ...)
    for n, (_, learner, j) in enumerate(order, start=1):
        update_index[learner, j] = n
    for learner, row in enumerate(finish_times):
        for j in range(len(row)):
            read_after = update_index[learner, j - 1] if j else 0  # it read right after its previous update
            out[learner][j] = update_index[learner, j] - 1 - read_after
    return out


# ---------------------------------------------------------------------------------------
# Problem 5: attention scores and the masked loss, in float64
# ---------------------------------------------------------------------------------------


def luong_scores(method: str, hidden, encoder_outputs, params) -> np.ndarray:
    """hidden [B, H], encoder_outputs [T, B, H] -> scores [B, T]."""
    h = hidden.double().numpy()
    e = encoder_outputs.double().numpy().transpose(1, 0, 2)  # [B, T, H]
    p = {name: value.double().numpy() for name, value in params.items()}
    if method == "dot":
        return np.einsum("bh,bth->bt", h, e)
    if method == "general":
        return np.einsum("bh,bth->bt", h, e @ p["W"].T + p["b"])
    both = np.concatenate([np.broadcast_to(h[:, None, :], e.shape), e], axis=2)  # [B, T, 2H]
    return np.tanh(both @ p["W"].T + p["b"]) @ p["v"]


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def masked_cross_entropy(logits, targets, mask) -> float:
    """Mean over mask-True positions of -log softmax(logits)[target], in float64."""
    z = logits.double().numpy()
    z = z - z.max(axis=-1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, targets.numpy()[..., None], axis=-1)[..., 0]
    m = mask.numpy()
    return float(-picked[m].sum() / m.sum())
