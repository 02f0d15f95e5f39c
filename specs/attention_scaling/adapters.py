"""Adapter contract for the attention-and-scaling-laws assignment.

Copy this file to SUBMISSION/attention_scaling/adapters.py and make each function call your own
code, which may live in any modules under SUBMISSION/attention_scaling/ (import them relatively:
`from .models import TransformerDecoder`). The grader calls these functions in a sandbox and
checks what they return. Every function is self-contained: build what you need from the
arguments; nothing carries over between calls. Models run in eval mode (no dropout) and without
gradients.

Weights travel as state dicts with the names below, whatever your modules call them: map them
to your own names in these functions (load_state_dict after renaming, or copy tensors into
your parameters). The grader computes its own reference with the same weights, so it can check
your computation exactly.

Attention weights (one ScaledDotAttention or CausalScaledDotAttention; H = hidden_size):
    "query.weight" [H, H], "query.bias" [H]     the query projection, nn.Linear(H, H) with bias
    "key.weight"   [H, H], "key.bias"   [H]     the key projection
    "value.weight" [H, H], "value.bias" [H]     the value projection
    (nn.Linear convention: y = x @ weight.T + bias)

Decoder weights (TransformerDecoder(vocab_size V, hidden_size H, num_layers L)):
    "embedding.weight"                 [V, H]   the token embedding
    "layers.{i}.attention.<name>"               layer i's causal attention, <name> as above
    "layers.{i}.mlp.weight" [H, H], "layers.{i}.mlp.bias" [H]   layer i's Linear (then ReLU)
    "out.weight" [V, H], "out.bias" [V]         the output layer
config for the decoder: {"vocab_size": V, "hidden_size": H, "num_layers": L}.

Tensors are float32 unless said otherwise; token ids are int64.
"""

import torch

# ---------------------------------------------------------------------------------------
# Part 2: data
# ---------------------------------------------------------------------------------------


def pig_latin(sentence: str) -> str:
    """Your Pig Latin translation of a sentence of lowercase words separated by single spaces, word
    by word: "the air conditioning is working" -> "ethay airway onditioningcay isway orkingway".
    (The grader uses only words with a vowel among a, e, i, o, u and no "y" or "qu".)"""
    raise NotImplementedError


# ---------------------------------------------------------------------------------------
# Part 2.1: attention and positional encodings
# ---------------------------------------------------------------------------------------


def attention_init(hidden_size: int, seed: int) -> dict[str, torch.Tensor]:
    """torch.manual_seed(seed), then build your ScaledDotAttention(hidden_size) and return its
    weights under the names above (six tensors). The weight matrices must be drawn at random, as
    nn.Linear's default initialisation does (the grader refuses a standard deviation below 0.01:
    on zero or tiny weights its checks could not tell a right attention from a constant one)."""
    raise NotImplementedError


def scaled_dot_attention(state_dict: dict, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor):
    """Your ScaledDotAttention(H) with these weights, on queries [B, H] or [B, k, H] and keys,
    values [B, S, H]. Returns (context [B, k, H], attention_weights [B, k, S]); k = 1 for 2-D
    queries. attention_weights[b, i] is query i's softmax over the S keys."""
    raise NotImplementedError


def causal_scaled_dot_attention(state_dict: dict, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor):
    """Your CausalScaledDotAttention(H) with these weights, on queries, keys, values [B, S, H]
    (self-attention: the same length S). Query position i attends only to key positions j <= i.
    Returns (context [B, S, H], attention_weights [B, S, S]), zero above the diagonal."""
    raise NotImplementedError


def positional_encodings(num_positions: int, hidden_size: int) -> torch.Tensor:
    """Your sinusoidal encodings [num_positions, hidden_size] (hidden_size even):
    PE[pos, 2i] = sin(pos / 10000^(2i/hidden_size)), PE[pos, 2i+1] = cos(pos / 10000^(2i/hidden_size))."""
    raise NotImplementedError


# ---------------------------------------------------------------------------------------
# Part 2.2: the decoder-only model
# ---------------------------------------------------------------------------------------


def generate_tensors_for_training_decoder(src_EOP: torch.Tensor, tgt_EOS: torch.Tensor, start_token: int):
    """Your function on src_EOP [B, S] and tgt_EOS [B, T] (int64). Returns (inputs, targets), both
    [B, S + T] int64: targets = concat(src_EOP, tgt_EOS), inputs = concat([start_token], src_EOP,
    tgt_EOS[:, :-1]) along the sequence."""
    raise NotImplementedError


def decoder_init(config: dict, seed: int) -> dict[str, torch.Tensor]:
    """torch.manual_seed(seed), then build your TransformerDecoder from config and return its
    weights under the decoder names above. Weight matrices drawn at random, as in attention_init
    (standard deviation at least 0.01)."""
    raise NotImplementedError


def decoder_forward(config: dict, state_dict: dict, tokens: torch.Tensor):
    """Your TransformerDecoder built from config with these weights, on tokens [B, T] (T <= 1000).
    Returns (logits [B, T, V], attention_weights [L, B, T, T]): every layer's causal attention
    weights stacked along a new first dimension (permute yours if you stacked them elsewhere)."""
    raise NotImplementedError


# ---------------------------------------------------------------------------------------
# Part 2.3: scaling laws
# ---------------------------------------------------------------------------------------


def find_optimal_params(x: list[float], y: list[float]):
    """Your find_optimal_params on parameter counts x and validation losses y (one budget).
    Returns (coefficients, optimal_params): coefficients [a, b, c] of the quadratic
    y = a·u² + b·u + c in u = log10(x), highest power first (numpy.polyfit's order), as a list of
    floats; optimal_params a float, 10 ** (the vertex -b / 2a). Where the vertex lies outside the
    sampled range of u you may instead return the argmin over the sampled range (the sampled x with
    the lowest y, or the vertex clamped to the nearer end of the range)."""
    raise NotImplementedError


def fit_linear_log(x: list[float], y: list[float]):
    """Your fit_linear_log: the least-squares fit log10(y) = m·log10(x) + c. Returns (m, c) as floats."""
    raise NotImplementedError


# ---------------------------------------------------------------------------------------
# Part 3: BERT for sentence classification
# ---------------------------------------------------------------------------------------


def bert_init(config: dict, seed: int) -> dict[str, torch.Tensor]:
    """torch.manual_seed(seed), then build your BertForSentenceClassification(BertConfig(**config))
    and return its state_dict(): BertModel's own names ("embeddings.word_embeddings.weight", ...,
    "pooler.dense.weight") plus "classifier.weight" [num_labels, hidden_size] and
    "classifier.bias" [num_labels]."""
    raise NotImplementedError


def bert_forward(config: dict, state_dict: dict, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 labels: torch.Tensor | None):
    """Your BertForSentenceClassification(BertConfig(**config)) with these weights, in eval mode,
    called as model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).
    Returns its output unchanged: (logits [B, num_labels], loss) when labels [B] (int64) are
    given, (logits,) when labels is None."""
    raise NotImplementedError
