"""Part 2: the attention encoder-decoder (2.1.4) and the decoder-only transformer (2.2)."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .attention import CausalScaledDotAttention, ScaledDotAttention, positional_encodings

MAX_POSITIONS = 1000  # the handout precomputes encodings for up to 1000 positions

# ---------------------------------------------------------------------------------------
# 2.1: a GRU encoder and a GRU decoder that attends to the encoder's annotations
# ---------------------------------------------------------------------------------------


class GRUEncoder(nn.Module):
    def __init__(self, vocab_size: int, hidden_size: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)

    def forward(self, source):
        """source [B, S] -> (annotations [B, S, H], last hidden state [B, H])."""
        annotations, hidden = self.gru(self.embedding(source))
        return annotations, hidden[0]


class AttentionDecoder(nn.Module):
    """One step: the hidden state queries the annotations (a 2-D query), and the context joins the
    previous token's embedding as the GRU cell's input."""

    def __init__(self, vocab_size: int, hidden_size: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.attention = ScaledDotAttention(hidden_size)
        self.cell = nn.GRUCell(2 * hidden_size, hidden_size)
        self.out = nn.Linear(hidden_size, vocab_size)

    def step(self, token, hidden, annotations):
        """token [B], hidden [B, H], annotations [B, S, H] -> (logits [B, V], hidden, weights [B, S])."""
        context, weights = self.attention(hidden, annotations, annotations)  # [B, 1, H], [B, 1, S]
        hidden = self.cell(torch.cat([self.embedding(token), context[:, 0]], dim=-1), hidden)
        return self.out(hidden), hidden, weights[:, 0]


@dataclass
class Seq2SeqConfig:
    vocab_size: int = 30
    hidden_size: int = 32


class EncoderDecoder(nn.Module):
    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.encoder = GRUEncoder(config.vocab_size, config.hidden_size)
        self.decoder = AttentionDecoder(config.vocab_size, config.hidden_size)

    def forward(self, source, decoder_inputs):
        """Teacher forcing: logits [B, T, V] for decoder_inputs [B, T] (SOS + target[:-1])."""
        annotations, hidden = self.encoder(source)
        logits = []
        for t in range(decoder_inputs.size(1)):
            step_logits, hidden, _ = self.decoder.step(decoder_inputs[:, t], hidden, annotations)
            logits.append(step_logits)
        return torch.stack(logits, dim=1)

    @torch.no_grad()
    def translate(self, source, sos_id: int, eos_id: int, max_len: int = 20) -> list[list[int]]:
        """Greedy decoding of source [B, S]: the ids up to (not including) EOS, per word."""
        annotations, hidden = self.encoder(source)
        token = torch.full((source.size(0),), sos_id, dtype=torch.long)
        outputs = []
        for _ in range(max_len):
            logits, hidden, _ = self.decoder.step(token, hidden, annotations)
            token = logits.argmax(-1)
            outputs.append(token)
        return [_until(row, eos_id) for row in torch.stack(outputs, dim=1).tolist()]


def _until(ids: list[int], stop: int) -> list[int]:
    return ids[: ids.index(stop)] if stop in ids else ids


# ---------------------------------------------------------------------------------------
# 2.2: the decoder-only transformer
# ---------------------------------------------------------------------------------------


def generate_tensors_for_training_decoder(src_EOP, tgt_EOS, start_token: int):
    """(inputs, targets), both [B, S + T]: targets = source then translation; inputs = the same
    shifted right by one, starting with start_token (the last translation token is never an input)."""
    start = torch.full((src_EOP.size(0), 1), start_token, dtype=src_EOP.dtype, device=src_EOP.device)
    inputs = torch.cat([start, src_EOP, tgt_EOS[:, :-1]], dim=1)
    targets = torch.cat([src_EOP, tgt_EOS], dim=1)
    return inputs, targets


@dataclass
class DecoderConfig:
    vocab_size: int = 30
    hidden_size: int = 32
    num_layers: int = 4


class DecoderLayer(nn.Module):
    def __init__(self, hidden_size: int):
        super().__init__()
        self.attention = CausalScaledDotAttention(hidden_size)
        self.mlp = nn.Linear(hidden_size, hidden_size)  # followed by a ReLU

    def forward(self, x):
        context, weights = self.attention(x, x, x)
        x = x + context
        x = x + F.relu(self.mlp(x))
        return x, weights


class TransformerDecoder(nn.Module):
    """Embeddings + sinusoidal positions, then per layer x + causal_attention(x), x + relu(linear(x))."""

    def __init__(self, vocab_size: int, hidden_size: int, num_layers: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(hidden_size) for _ in range(num_layers)])
        self.out = nn.Linear(hidden_size, vocab_size)
        self.register_buffer("positions", positional_encodings(MAX_POSITIONS, hidden_size), persistent=False)

    @classmethod
    def from_config(cls, config: DecoderConfig) -> "TransformerDecoder":
        return cls(config.vocab_size, config.hidden_size, config.num_layers)

    def forward(self, tokens):
        """tokens [B, T] -> (logits [B, T, V], attention_weights [num_layers, B, T, T])."""
        x = self.embedding(tokens) + self.positions[: tokens.size(1)]
        all_weights = []
        for layer in self.layers:
            x, weights = layer(x)
            all_weights.append(weights)
        return self.out(x), torch.stack(all_weights)

    def non_embedding_parameters(self) -> int:
        """The parameter count of the scaling sweep (16h^2 + 46h + 30 at 4 layers, vocabulary 30)."""
        return sum(p.numel() for name, p in self.named_parameters() if not name.startswith("embedding"))

    @torch.no_grad()
    def translate(self, source_eop, sos_id: int, eos_id: int, max_len: int = 20) -> list[list[int]]:
        """Greedy continuation of [SOS] + source_eop [B, S]: the generated ids up to EOS, per word."""
        start = torch.full((source_eop.size(0), 1), sos_id, dtype=torch.long)
        tokens = torch.cat([start, source_eop], dim=1)
        generated = []
        for _ in range(max_len):
            logits, _ = self(tokens)
            token = logits[:, -1].argmax(-1, keepdim=True)
            generated.append(token)
            tokens = torch.cat([tokens, token], dim=1)
        return [_until(row, eos_id) for row in torch.cat(generated, dim=1).tolist()]
