"""Adapter contract for the bias-variance and distributed-SGD assignment.

Copy this file to SUBMISSION/bias_variance_sgd/adapters.py and make each function call your own
code, which may live in any modules under SUBMISSION/bias_variance_sgd/ (import them relatively:
`from .polyfit import fit`). The grader calls these functions in a sandbox and checks what they
return. Every function is self-contained: it gets everything it needs as arguments, and nothing
carries over between calls. Problems 2, 3 and 4 also have numbers to write in answers.toml
(template: specs/bias_variance_sgd/answers.toml).

Arrays are numpy float64 arrays; tensors are torch tensors. Shapes are written [like, this].

Problem 1 conventions
---------------------
y(x) = f(x) + eps with f(x) = x + sin(1.5 x) and eps ~ N(0, 0.3): mean 0 and VARIANCE 0.3 (a
standard deviation of sqrt(0.3) ~ 0.548). x lies in [0, 10] unless an argument says otherwise.

The 100-dataset study has two protocols (the handout's two bullets). Each dataset has 40
training and 10 test points (80/20 of 50):
    "fixed_x"     one set of 50 x values, the same in every dataset (40 train, 10 test); only the
                  noise in y is drawn afresh for each dataset, in the training and the test part.
    "fixed_test"  one test set of 10 points (x and y) drawn first and shared by every dataset; then
                  each dataset's 40 training points are drawn independently, and none of them may
                  be a test point (no test x may appear among a dataset's training x).
For a degree, with g_d the model fitted on dataset d and x_i, y_di the test points:
    bias2       = mean over i of (mean over d of g_d(x_i) - f(x_i))^2
    variance    = mean over i of (mean over d of (g_d(x_i) - mean over d of g_d(x_i))^2)
    test_error  = mean over d and i of (y_di - g_d(x_i))^2
so that test_error ~ bias2 + variance + noise (0.3), up to Monte-Carlo error.

Problem 3 conventions (Dutta et al., 2018, "Slow and stale gradients can win the race")
-----------------------------------------------------------------------------------
times[i][j] is the time learner i needs for its j-th mini-batch (j = 0, 1, ...). Learners start
at time 0 and the parameter server (PS) updates instantly. The algorithms:
    "sync"           every learner computes one mini-batch; the PS waits for all of them.
    "k_sync"         every learner computes one mini-batch; the PS updates after the first k
                     finish, and cancels the others; then all learners start afresh.
    "k_batch_sync"   learners compute mini-batches back to back from the same parameters (one
                     learner may finish several); the PS updates after the first k mini-batches in
                     all and cancels the unfinished ones; then all learners start afresh.
    "async"          each finished mini-batch is an update; the learner pulls and goes on.
    "k_async"        the PS updates once k learners have pushed a gradient; a learner that has
                     pushed waits for that update, then pulls and starts its next mini-batch; the
                     others carry on (nothing is cancelled).
    "k_batch_async"  the PS updates after every k mini-batches from any learners; a learner pulls
                     after each push and goes on at once (nothing is cancelled).
A cancelled mini-batch either uses up its entry (the learner's next mini-batch is its next entry)
or is redone (the learner starts the same entry again): both conventions are accepted; say which
you use in answers.toml (p3.convention).

Problem 5 conventions
---------------------
Token ids: PAD = 0, SOS = 1, EOS = 2, words from 3 on. A chatbot config is a dict:
    vocab_size, hidden_size, encoder_n_layers, decoder_n_layers,
    attn_model ("dot", "general" or "concat")
A model "built from config with seed" means torch.manual_seed(seed), then construct the encoder
and the decoder (eval mode: no dropout); the same config and seed give the same weights.
"""

import numpy as np
import torch

# ---------------------------------------------------------------------------------------
# Problem 1: bias-variance trade-off and regularisation
# ---------------------------------------------------------------------------------------


def sample_dataset(n: int, seed: int, x_low: float, x_high: float) -> tuple[np.ndarray, np.ndarray]:
    """(x [n], y [n]): n points of y(x) = x + sin(1.5 x) + eps, eps of mean 0 and variance 0.3, with
    x drawn by your generator inside [x_low, x_high]. The same seed gives the same points."""
    raise NotImplementedError


def fit_predict(x_train: np.ndarray, y_train: np.ndarray, degree: int, l2: float, x_eval: np.ndarray) -> np.ndarray:
    """Fit g(x) = beta_0 + beta_1 x + ... + beta_degree x^degree to (x_train [n], y_train [n]) and
    return g(x_eval) [m]. l2 = 0 is ordinary least squares; l2 > 0 adds your L2 penalty of that
    weight (sum of squared errors + l2 * ||beta||^2 in the basis you fit in; say which in your
    report). The grader fits degrees up to 15 on x in [0, 10]: keep it numerically sound."""
    raise NotImplementedError


def bias_variance_study(protocol: str, degrees: list[int], l2: float, n_datasets: int, seed: int) -> dict:
    """Your 100-dataset study (see "Problem 1 conventions") with n_datasets datasets, fitting each
    degree in degrees with penalty l2 (fit_predict's). The datasets depend only on protocol,
    n_datasets and seed: two calls that differ in degrees or l2 use the same datasets. Returns:
        "x_train", "y_train"   [n_datasets, 40]  each dataset's training points
        "x_test", "y_test"     [n_datasets, 10]  each dataset's test points (rows repeat where the
                                                 protocol shares them)
        "predictions"          [len(degrees), n_datasets, 10]  g_d(x_test[d]) for each degree
        "bias2", "variance", "test_error"   [len(degrees)]
    """
    raise NotImplementedError


def regularization_rate() -> float:
    """The l2 (> 0) of your regularised degree-10 model in part 5."""
    raise NotImplementedError


# ---------------------------------------------------------------------------------------
# Problems 3 and 4: synchronous and asynchronous SGD, staleness
# ---------------------------------------------------------------------------------------


def simulate(algorithm: str, times: list[list[float]], k: int, updates: int) -> list[float]:
    """The times of the PS's first `updates` updates (ascending) under `algorithm` (see "Problem 3
    conventions") with learners' mini-batch times `times` (P lists) and parameter k (ignored by
    "sync" and "async"). The grader gives enough entries for every learner."""
    raise NotImplementedError


def staleness(finish_times: list[list[float]]) -> list[list[int]]:
    """Problem 4: finish_times[i] are the ascending times at which learner i pushes its gradients
    to the PS in asynchronous SGD; each push updates the weights at once, and the learner pulls the
    new weights at that moment (at time 0 for its first gradient). Simultaneous pushes are applied
    in the order of the learners' index. Returns, for each learner, the staleness of each of its
    gradients: the number of updates applied after the learner read the weights and before its
    gradient's own update."""
    raise NotImplementedError


# ---------------------------------------------------------------------------------------
# Problem 5: the seq2seq chatbot with Luong attention
# ---------------------------------------------------------------------------------------


def luong_attention(method: str, hidden: torch.Tensor, encoder_outputs: torch.Tensor,
                    params: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Luong et al. (2015) attention of your decoder, with these parameters:
        hidden [B, H]             the decoder's current hidden state h_t
        encoder_outputs [T, B, H] the encoder's outputs h_s (time first, as in the tutorial)
        params                    "dot": {}; "general": {"W": [H, H], "b": [H]};
                                  "concat": {"W": [H, 2H], "b": [H], "v": [H]}
    with the scores
        dot      h_t . h_s
        general  h_t . (W h_s + b)
        concat   v . tanh(W [h_t; h_s] + b)      ([h_t; h_s]: h_t first)
    Returns (scores [B, T], weights [B, T]): weights are the softmax of the scores over T.
    Load params into your attention module (e.g. nn.Linear's weight and bias) and call it."""
    raise NotImplementedError


def masked_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> float:
    """Your training loss on decoder outputs: logits [T, B, V] (unnormalised scores), targets
    [T, B] (int64) and mask [T, B] (bool, False at padding). The mean cross-entropy over the
    positions where mask is True: their sum divided by their count."""
    raise NotImplementedError


def next_token_scores(config: dict, seed: int, input_ids: list[int], prefix: list[int]) -> torch.Tensor:
    """The decoder's scores [vocab_size] (logits, log-probabilities or probabilities) for the next
    token of the reply to input_ids (a sentence ending with EOS), after SOS and the tokens of
    prefix, for the model built from config with seed."""
    raise NotImplementedError


def greedy_decode(config: dict, seed: int, input_ids: list[int], max_length: int) -> list[int]:
    """Greedy search with the model built from config with seed: the reply to input_ids, token by
    token (each the argmax of next_token_scores), starting after SOS and stopping after EOS (which is
    included) or after max_length tokens."""
    raise NotImplementedError


def sweep_config() -> dict:
    """Your sweep configuration in Weights & Biases' format (the dict wandb.sweep() takes): the
    method, the metric and its goal, and "parameters" with the grid of problem 5.3, each as
    {"values": [...]}, named learning_rate, optimizer, clip, teacher_forcing_ratio and
    decoder_learning_ratio."""
    raise NotImplementedError


def sample_sweep(config: dict, count: int, seed: int) -> list[dict]:
    """The first `count` runs' hyperparameters (each a dict: parameter name -> value) that your
    random search draws from a sweep config in W&B's format whose parameters all have "values"
    lists. The same seed gives the same runs."""
    raise NotImplementedError
