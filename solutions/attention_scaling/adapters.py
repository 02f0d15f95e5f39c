"""The attention-and-scaling-laws adapter contract (specs/attention_scaling/adapters.py), filled in
with this solution. The reference's modules already use the contract's weight names."""

import torch

from . import data, scaling
from .attention import CausalScaledDotAttention, ScaledDotAttention
from .attention import positional_encodings as sinusoidal_encodings
from .models import TransformerDecoder
from .models import generate_tensors_for_training_decoder as training_tensors

# Part 2: data


def pig_latin(sentence: str) -> str:
    return data.pig_latin(sentence)


# Part 2.1: attention and positional encodings


def attention_init(hidden_size: int, seed: int) -> dict:
    torch.manual_seed(seed)
    return ScaledDotAttention(hidden_size).state_dict()


def _attention(cls, state_dict):
    module = cls(state_dict["query.weight"].shape[0])
    module.load_state_dict(state_dict)
    return module.eval()


@torch.no_grad()
def scaled_dot_attention(state_dict, queries, keys, values):
    return _attention(ScaledDotAttention, state_dict)(queries, keys, values)


@torch.no_grad()
def causal_scaled_dot_attention(state_dict, queries, keys, values):
    return _attention(CausalScaledDotAttention, state_dict)(queries, keys, values)


def positional_encodings(num_positions: int, hidden_size: int) -> torch.Tensor:
    return sinusoidal_encodings(num_positions, hidden_size)


# Part 2.2: the decoder-only model


def generate_tensors_for_training_decoder(src_EOP, tgt_EOS, start_token: int):
    return training_tensors(src_EOP, tgt_EOS, start_token)


def _decoder(config: dict) -> TransformerDecoder:
    return TransformerDecoder(config["vocab_size"], config["hidden_size"], config["num_layers"])


def decoder_init(config: dict, seed: int) -> dict:
    torch.manual_seed(seed)
    return _decoder(config).state_dict()


@torch.no_grad()
def decoder_forward(config: dict, state_dict: dict, tokens):
    model = _decoder(config)
    model.load_state_dict(state_dict)
    return model.eval()(tokens)


# Part 2.3: scaling laws


def find_optimal_params(x, y):
    return scaling.find_optimal_params(x, y)


def fit_linear_log(x, y):
    return scaling.fit_linear_log(x, y)


# Part 3: BERT (transformers is imported here, not above: it takes seconds, and only these need it)


def _bert(config: dict):
    from transformers import BertConfig

    from .bert import BertForSentenceClassification

    return BertForSentenceClassification(BertConfig(**config))


def bert_init(config: dict, seed: int) -> dict:
    torch.manual_seed(seed)
    return _bert(config).state_dict()


@torch.no_grad()
def bert_forward(config: dict, state_dict: dict, input_ids, attention_mask, labels):
    model = _bert(config)
    model.load_state_dict(state_dict)
    return model.eval()(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
