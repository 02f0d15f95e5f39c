"""Problems 3 and 4: when a parameter server updates under synchronous and asynchronous SGD
(Dutta et al., 2018), and how stale asynchronous gradients are.

    python -m solutions.bias_variance_sgd.parameter_server      # the handout's answers

times[i][j] is learner i's time for its j-th mini-batch; learners start at time 0 and updates
take no time. A learner's "entry" is the index of the next time it will use. Cancelled work
(K-sync, K-batch-sync) follows one of two conventions:

    "consumed"  the cancelled mini-batch used up its entry: the learner starts on the next one
                (its data are dropped, as when a learner abandons a straggling batch);
    "redone"    the learner starts the same entry again (the same data, the same time).

The handout's numbers use "consumed"; "redone" gives 6.5 ms (2-sync) and 6.4 ms (2-batch-sync).
"""

from __future__ import annotations

import heapq

LEARNER_TIMES = [  # milliseconds, problem 3
    [1.5, 0.9, 2.5, 1.2, 1.8, 0.9],
    [3.0, 2.5, 1.7, 3.0, 0.7, 0.8],
    [2.5, 1.5, 0.7, 0.9, 2.0, 2.2],
]
PROBLEM_3 = [("sync", 0), ("k_sync", 2), ("k_batch_sync", 2), ("async", 0), ("k_batch_async", 2)]
PUSH_TIMES = [[1.0, 2.0, 3.0, 4.0], [2.5, 5.0]]  # seconds, problem 4
ALGORITHMS = ("sync", "k_sync", "k_batch_sync", "async", "k_async", "k_batch_async")
CONVENTIONS = ("consumed", "redone")


def simulate(algorithm: str, times: list[list[float]], k: int, updates: int, convention: str = "consumed") -> list[float]:
    """The times of the first `updates` parameter-server updates."""
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; expected one of {CONVENTIONS}")
    if algorithm == "sync":  # K-sync that waits for everyone: nothing is ever cancelled
        return _k_sync(times, len(times), updates, convention)
    if algorithm == "k_sync":
        return _k_sync(times, k, updates, convention)
    if algorithm == "k_batch_sync":
        return _k_batch_sync(times, k, updates, convention)
    if algorithm == "async":  # every mini-batch is an update
        return _k_batch_async(times, 1, updates)
    if algorithm == "k_async":
        return _k_async(times, k, updates)
    if algorithm == "k_batch_async":
        return _k_batch_async(times, k, updates)
    raise ValueError(f"unknown algorithm {algorithm!r}; expected one of {ALGORITHMS}")


def _k_sync(times, k, updates, convention):
    """Each round every learner starts one mini-batch; the round ends when k have finished."""
    entry = [0] * len(times)
    now, out = 0.0, []
    for _ in range(updates):
        finish = sorted((now + times[i][entry[i]], i) for i in range(len(times)))
        now = finish[k - 1][0]
        for rank, (_, i) in enumerate(finish):
            if rank < k or convention == "consumed":  # finished, or cancelled with its entry used up
                entry[i] += 1
        out.append(now)
    return out


def _k_batch_sync(times, k, updates, convention):
    """Each round every learner computes mini-batches back to back; the round ends at the k-th
    mini-batch finished in all, and each learner's mini-batch in progress is cancelled."""
    entry = [0] * len(times)
    now, out = 0.0, []
    for _ in range(updates):
        # Finish times of each learner's next mini-batches this round (k of them are always enough).
        finishes = []
        for i, row in enumerate(times):
            t = now
            for j in range(entry[i], entry[i] + k):
                t += row[j]
                finishes.append((t, i))
        finishes.sort()
        counted = finishes[:k]
        end = counted[-1][0]
        for i in range(len(times)):
            done = sum(1 for _, who in counted if who == i)
            # A learner is mid-batch at the update unless the update came exactly at its own finish.
            in_progress = not (done and max(t for t, who in counted if who == i) == end)
            entry[i] += done + (1 if in_progress and convention == "consumed" else 0)
        now = end
        out.append(now)
    return out


def _k_batch_async(times, k, updates):
    """Learners never wait: the updates are every k-th mini-batch of the merged finish times."""
    finishes = []
    for row in times:
        t = 0.0
        for duration in row[: k * updates]:
            t += duration
            finishes.append(t)
    finishes.sort()
    return [finishes[k * u - 1] for u in range(1, updates + 1)]


def _k_async(times, k, updates):
    """A learner that has pushed waits for the next update; the update comes with the k-th push."""
    entry = [1] * len(times)
    running = [(row[0], i) for i, row in enumerate(times)]  # (finish time, learner)
    heapq.heapify(running)
    waiting, out = [], []
    while len(out) < updates:
        now, i = heapq.heappop(running)
        waiting.append(i)
        if len(waiting) == k:
            out.append(now)
            for j in waiting:  # they pull the new parameters and start again
                heapq.heappush(running, (now + times[j][entry[j]], j))
                entry[j] += 1
            waiting = []
    return out


def staleness(finish_times: list[list[float]]) -> list[list[int]]:
    """Problem 4: updates applied between a learner's read of the weights and its own update."""
    pushes = sorted((t, i) for i, row in enumerate(finish_times) for t in row)  # ties: lower index first
    applied = 0
    read_at = [0] * len(finish_times)  # the update count when each learner last pulled
    out = [[] for _ in finish_times]
    for _, i in pushes:
        out[i].append(applied - read_at[i])
        applied += 1
        read_at[i] = applied  # it pulls the weights its own gradient just updated
    return out


def main() -> None:
    for convention in CONVENTIONS:
        print(f"problem 3 ({convention} convention for cancelled mini-batches): time of each update, ms")
        for algorithm, k in PROBLEM_3:
            name = algorithm.replace("k_", f"{k}-").replace("_", "-") if k else algorithm
            shown = ", ".join(f"{t:.1f}" for t in simulate(algorithm, LEARNER_TIMES, k, 3, convention))
            print(f"  {name:14s} {shown}")
    print("problem 4: staleness of each gradient")
    for i, row in enumerate(staleness(PUSH_TIMES), start=1):
        print(f"  learner {i}: {row}")


if __name__ == "__main__":
    main()
