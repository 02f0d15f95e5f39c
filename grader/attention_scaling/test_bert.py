"""3: BertForSentenceClassification on a small random-init BertConfig (nothing downloaded).

The grader takes the student's own weights (bert_init), builds its own BertModel from the same
config with them, and computes classifier(pooler_output) and the cross-entropy in float64.
Every check first checks the weights' names and shapes (BertModel's own names plus a
classifier [num_labels, hidden_size]) and the returned tuple: (logits,) without labels, (logits,
loss) with them. A constant output must not pass: with labels, the loss must be the cross-entropy
of the returned logits, which must differ between the sentences; and the checks against the
grader's logits first ask that those differ between the sentences, since on degenerate weights
(every LayerNorm or the classifier zeroed) every sentence gets the same logits, which a submission
could return without running BERT (the reference's spread across the batch is 0.05 to 0.14).
Tolerance: the reference's float32 logits differ from that by at most 1e-6; logits taken from the
[CLS] hidden state instead of pooler_output differ by 1e-1.
"""

import pytest
import torch
import torch.nn.functional as F

from grader.checks import expect_close, expect_tensor, fail

from . import reference
from .common import as_state_dict

CONFIG = dict(vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
              max_position_embeddings=16, num_labels=3)
ATOL, RTOL = 1e-5, 1e-5


def bert_shapes() -> dict[str, tuple]:
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    shapes = {k: tuple(v.shape) for k, v in BertModel(BertConfig(**CONFIG)).state_dict().items()}
    shapes["classifier.weight"] = (CONFIG["num_labels"], CONFIG["hidden_size"])
    shapes["classifier.bias"] = (CONFIG["num_labels"],)
    return shapes


def own_weights(adapters, seed: int = 0) -> dict:
    return as_state_dict(adapters.bert_init(CONFIG, seed), bert_shapes(), f"bert_init(config, seed={seed})", exact=False)


def reference_logits(sd: dict, ids, mask, what: str):
    """The grader's float64 logits on the student's weights, which must tell the sentences apart."""
    want = reference.bert_logits(CONFIG, sd, ids, mask)
    if (want - want[0]).abs().max() <= 1e-4:
        fail(f"{what}: with your bert_init weights BertModel gives every sentence the same logits "
             f"({[round(v, 6) for v in want[0].tolist()]}), so they cannot show whether your model is right: every "
             "LayerNorm, embedding and linear layer, and the classifier, must be initialised at random as BERT's are")
    return want


def batch(seed: int):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, CONFIG["vocab_size"], (4, 7), generator=g)
    mask = torch.ones(4, 7, dtype=torch.int64)
    mask[1, 5:] = 0  # one padded sentence
    return ids, mask, torch.randint(0, CONFIG["num_labels"], (4,), generator=g)


def call(adapters, sd, ids, mask, labels):
    what = f"bert_forward(config, weights, input_ids {list(ids.shape)}, attention_mask, labels={'None' if labels is None else list(labels.shape)})"
    got = adapters.bert_forward(CONFIG, sd, ids, mask, labels)
    want = 1 if labels is None else 2
    if not isinstance(got, tuple) or len(got) != want:
        shown = f"a {type(got).__name__} of {len(got)} items" if isinstance(got, (tuple, list)) else type(got).__name__
        fail(f"{what} returned {shown}; expected the tuple " + ("(logits,)" if labels is None else "(logits, loss)"))
    expect_tensor(got[0], what=f"{what}: logits", shape=(ids.size(0), CONFIG["num_labels"]), dtype=torch.float32)
    return got, what


@pytest.mark.rubric("bert.head")
def test_with_labels_the_output_is_logits_then_loss(adapters):
    ids, mask, labels = batch(1)
    (logits, loss), what = call(adapters, own_weights(adapters), ids, mask, labels)
    expect_tensor(loss, what=f"{what}: loss (the second item)", shape=(), dtype=torch.float32)
    # Against the logits it returned, so a head whose logits are wrong keeps this check; a constant
    # output (the same logits for every sentence, and their cross-entropy) does not.
    if (logits - logits[0]).abs().max() <= 1e-6:
        fail(f"{what}: every sentence gets the same logits ({[round(v, 6) for v in logits[0].tolist()]}); "
             "they must come from the model, classifier(pooler_output), which tells the sentences apart")
    expect_close(loss.double(), F.cross_entropy(logits.double(), labels), atol=ATOL, rtol=RTOL, check_dtype=False,
                 what=f"{what}: loss (the second item), against the cross-entropy of the returned logits and labels")


@pytest.mark.rubric("bert.head", weight=2)
@pytest.mark.parametrize("seed", [0, 1])
def test_logits_are_the_classifier_applied_to_pooler_output(adapters, seed):
    sd = own_weights(adapters, seed)
    ids, mask, _ = batch(seed)
    (logits,), what = call(adapters, sd, ids, mask, None)
    want = reference_logits(sd, ids, mask, what)
    expect_close(logits.double(), want, what=f"{what}: logits, against classifier(BertModel(...).pooler_output)",
                 atol=ATOL, rtol=RTOL, check_dtype=False)


@pytest.mark.rubric("bert.head", weight=2)
def test_the_loss_is_the_cross_entropy_of_the_logits(adapters):
    sd = own_weights(adapters, 2)
    ids, mask, labels = batch(2)
    (_, loss), what = call(adapters, sd, ids, mask, labels)
    expect_tensor(loss, what=f"{what}: loss", shape=(), dtype=torch.float32)
    want = F.cross_entropy(reference_logits(sd, ids, mask, what), labels)
    expect_close(loss.double(), want, what=f"{what}: loss, against the mean cross-entropy of the logits and labels",
                 atol=ATOL, rtol=RTOL, check_dtype=False)
