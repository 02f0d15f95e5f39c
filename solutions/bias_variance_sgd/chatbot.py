"""Problem 5: the sequence-to-sequence chatbot of the PyTorch chatbot tutorial: a bidirectional GRU
encoder, a GRU decoder with Luong attention (dot, general or concat scores), the masked loss and
greedy search that stops at EOS.

The decoder returns logits rather than the tutorial's softmax probabilities: the loss is then
cross-entropy on logits (log-softmax inside, no log of a rounded probability), and greedy search
takes the same argmax.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .corpus import EOS, SOS


@dataclass
class ChatbotConfig:
    vocab_size: int
    hidden_size: int = 64
    encoder_n_layers: int = 1
    decoder_n_layers: int = 1
    attn_model: str = "dot"  # "dot", "general" or "concat"
    dropout: float = 0.1

    @classmethod
    def from_dict(cls, d: dict) -> "ChatbotConfig":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class EncoderRNN(nn.Module):
    """A bidirectional GRU; its outputs are the sum of the two directions'."""

    def __init__(self, config: ChatbotConfig, embedding: nn.Embedding):
        super().__init__()
        self.hidden_size = config.hidden_size
        self.embedding = embedding
        dropout = 0.0 if config.encoder_n_layers == 1 else config.dropout
        self.gru = nn.GRU(config.hidden_size, config.hidden_size, config.encoder_n_layers, dropout=dropout, bidirectional=True)

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor):
        """inputs [T, B], lengths [B] (descending) -> outputs [T, B, H], hidden [2 * layers, B, H]."""
        packed = nn.utils.rnn.pack_padded_sequence(self.embedding(inputs), lengths.cpu())
        outputs, hidden = self.gru(packed)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(outputs)
        return outputs[:, :, : self.hidden_size] + outputs[:, :, self.hidden_size :], hidden


class Attn(nn.Module):
    """Luong et al. (2015) global attention: score(h_t, h_s) by dot, general or concat."""

    def __init__(self, method: str, hidden_size: int):
        super().__init__()
        if method not in ("dot", "general", "concat"):
            raise ValueError(f"{method!r} is not an attention method; use dot, general or concat")
        self.method = method
        if method == "general":
            self.attn = nn.Linear(hidden_size, hidden_size)
        elif method == "concat":
            self.attn = nn.Linear(2 * hidden_size, hidden_size)
            self.v = nn.Parameter(torch.rand(hidden_size))

    def scores(self, hidden: torch.Tensor, encoder_outputs: torch.Tensor) -> torch.Tensor:
        """hidden [1, B, H], encoder_outputs [T, B, H] -> scores [B, T]."""
        if self.method == "dot":
            energy = torch.sum(hidden * encoder_outputs, dim=2)
        elif self.method == "general":
            energy = torch.sum(hidden * self.attn(encoder_outputs), dim=2)
        else:
            both = torch.cat((hidden.expand(encoder_outputs.size(0), -1, -1), encoder_outputs), dim=2)
            energy = torch.sum(self.v * self.attn(both).tanh(), dim=2)
        return energy.t()

    def forward(self, hidden: torch.Tensor, encoder_outputs: torch.Tensor) -> torch.Tensor:
        """The attention weights [B, 1, T]: a softmax over the encoder's time steps."""
        return F.softmax(self.scores(hidden, encoder_outputs), dim=1).unsqueeze(1)


class LuongAttnDecoderRNN(nn.Module):
    """One step at a time: GRU, attention over the encoder outputs, concat layer, output logits."""

    def __init__(self, config: ChatbotConfig, embedding: nn.Embedding):
        super().__init__()
        h = config.hidden_size
        self.n_layers = config.decoder_n_layers
        self.embedding = embedding
        self.embedding_dropout = nn.Dropout(config.dropout)
        self.gru = nn.GRU(h, h, config.decoder_n_layers, dropout=0.0 if config.decoder_n_layers == 1 else config.dropout)
        self.concat = nn.Linear(2 * h, h)
        self.out = nn.Linear(h, config.vocab_size)
        self.attn = Attn(config.attn_model, h)

    def forward(self, input_step: torch.Tensor, last_hidden: torch.Tensor, encoder_outputs: torch.Tensor):
        """input_step [1, B] -> (logits [B, V], hidden [layers, B, H])."""
        embedded = self.embedding_dropout(self.embedding(input_step))
        rnn_output, hidden = self.gru(embedded, last_hidden)
        weights = self.attn(rnn_output, encoder_outputs)  # [B, 1, T]
        context = weights.bmm(encoder_outputs.transpose(0, 1))  # [B, 1, H]
        concat_output = torch.tanh(self.concat(torch.cat((rnn_output.squeeze(0), context.squeeze(1)), dim=1)))
        return self.out(concat_output), hidden


class Seq2Seq(nn.Module):
    """The encoder and the decoder sharing one embedding, as in the tutorial."""

    def __init__(self, config: ChatbotConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.encoder = EncoderRNN(config, self.embedding)
        self.decoder = LuongAttnDecoderRNN(config, self.embedding)

    def encode(self, inputs: torch.Tensor, lengths: torch.Tensor):
        """(encoder outputs, the decoder's first hidden state: the encoder's first layers' final states)."""
        outputs, hidden = self.encoder(inputs, lengths)
        return outputs, hidden[: self.config.decoder_n_layers]

    def forward(self, inputs, lengths, targets, teacher_forcing: bool) -> torch.Tensor:
        """Logits [T_out, B, V] for the targets [T_out, B]: each step is fed the previous target
        (teacher forcing) or the model's own previous argmax."""
        encoder_outputs, hidden = self.encode(inputs, lengths)
        step = torch.full((1, inputs.size(1)), SOS, dtype=torch.long)
        logits = []
        for t in range(targets.size(0)):
            out, hidden = self.decoder(step, hidden, encoder_outputs)
            logits.append(out)
            step = targets[t].view(1, -1) if teacher_forcing else out.argmax(dim=1).view(1, -1).detach()
        return torch.stack(logits)


def masked_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the real (mask True) target tokens: their sum over their count.

    The tutorial averages each time step over its real tokens; weighting each step by its count,
    as here, is the mean over all real tokens of the batch, which is what it reports as the loss.
    """
    losses = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
    mask = mask.flatten()
    return losses[mask].sum() / mask.sum().clamp(min=1)


@torch.no_grad()
def next_token_logits(model: Seq2Seq, input_ids: list[int], prefix: list[int]) -> torch.Tensor:
    """The decoder's logits [V] for the token after SOS + prefix, for one query."""
    inputs = torch.tensor(input_ids, dtype=torch.long).view(-1, 1)
    encoder_outputs, hidden = model.encode(inputs, torch.tensor([len(input_ids)]))
    logits = None
    for token in [SOS] + list(prefix):
        logits, hidden = model.decoder(torch.tensor([[token]]), hidden, encoder_outputs)
    return logits[0]


@torch.no_grad()
def greedy_search(model: Seq2Seq, input_ids: list[int], max_length: int) -> tuple[list[int], list[float]]:
    """(tokens, their probabilities): each step's argmax, up to and including EOS or max_length tokens.

    The tutorial's GreedySearchDecoder always runs max_length steps; stopping at EOS is what a
    reply means (nothing after EOS is ever shown) and saves the remaining steps.
    """
    inputs = torch.tensor(input_ids, dtype=torch.long).view(-1, 1)
    encoder_outputs, hidden = model.encode(inputs, torch.tensor([len(input_ids)]))
    step = torch.tensor([[SOS]])
    tokens, scores = [], []
    while len(tokens) < max_length:
        logits, hidden = model.decoder(step, hidden, encoder_outputs)
        probability, token = F.softmax(logits[0], dim=0).max(dim=0)
        tokens.append(int(token))
        scores.append(float(probability))
        if token == EOS:
            break
        step = token.view(1, 1)
    return tokens, scores
