"""The bias_variance_sgd adapter contract (specs/bias_variance_sgd/adapters.py), filled in with this solution."""

import numpy as np
import torch

from . import bias_variance, parameter_server, sweep
from .chatbot import Attn, ChatbotConfig, Seq2Seq, greedy_search, next_token_logits
from .chatbot import masked_loss as chatbot_masked_loss

# Problem 1


def sample_dataset(n: int, seed: int, x_low: float, x_high: float) -> tuple[np.ndarray, np.ndarray]:
    return bias_variance.sample_dataset(n, seed, x_low, x_high)


def fit_predict(x_train: np.ndarray, y_train: np.ndarray, degree: int, l2: float, x_eval: np.ndarray) -> np.ndarray:
    return bias_variance.fit_predict(x_train, y_train, degree, l2, x_eval)


def bias_variance_study(protocol: str, degrees: list[int], l2: float, n_datasets: int, seed: int) -> dict:
    return bias_variance.bias_variance_study(protocol, degrees, l2, n_datasets, seed)


def regularization_rate() -> float:
    return bias_variance.L2


# Problems 3 and 4


def simulate(algorithm: str, times: list[list[float]], k: int, updates: int) -> list[float]:
    return parameter_server.simulate(algorithm, times, k, updates, convention="consumed")


def staleness(finish_times: list[list[float]]) -> list[list[int]]:
    return parameter_server.staleness(finish_times)


# Problem 5


@torch.no_grad()
def luong_attention(method: str, hidden: torch.Tensor, encoder_outputs: torch.Tensor,
                    params: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    attention = Attn(method, hidden.size(-1))
    if method in ("general", "concat"):
        attention.attn.weight.copy_(params["W"])
        attention.attn.bias.copy_(params["b"])
    if method == "concat":
        attention.v.copy_(params["v"])
    scores = attention.scores(hidden.unsqueeze(0), encoder_outputs)
    return scores, attention(hidden.unsqueeze(0), encoder_outputs).squeeze(1)


def masked_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> float:
    return chatbot_masked_loss(logits, targets, mask).item()


def _build(config: dict, seed: int) -> Seq2Seq:
    torch.manual_seed(seed)
    return Seq2Seq(ChatbotConfig.from_dict(config)).eval()


def next_token_scores(config: dict, seed: int, input_ids: list[int], prefix: list[int]) -> torch.Tensor:
    return next_token_logits(_build(config, seed), input_ids, prefix)


def greedy_decode(config: dict, seed: int, input_ids: list[int], max_length: int) -> list[int]:
    tokens, _ = greedy_search(_build(config, seed), input_ids, max_length)
    return tokens


def sweep_config() -> dict:
    return sweep.SWEEP_CONFIG


def sample_sweep(config: dict, count: int, seed: int) -> list[dict]:
    return sweep.sample_runs(config, count, seed)
