"""The language model: each direction predicts only from its own side, the loss is the exact token NLL,
padding never changes a text's loss, generation is seeded, and fine-tuning loads exactly its weights."""

import math

import pytest
import torch

from textrnn.models import LanguageModel, TextRNN
from textrnn.models.optim import slanted_triangular
from textrnn.nn import RecurrentEncoder, TimePooling

VOCAB = 50


def lm(**kwargs):
    torch.manual_seed(0)
    options = {"vocab_size": VOCAB, "embedding_dim": 8, "hidden_size": 6, "cutoffs": [10, 30],
               "embedding_dropout": 0.0, "dropout": 0.0, "output_dropout": 0.0} | kwargs
    return LanguageModel(**options).eval()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_each_direction_sees_only_its_own_side(cell, layers):
    """Changing token k changes the forward outputs at positions >= k only and the backward ones <= k only:
    neither direction ever sees the token it predicts, stacked layers included."""
    model = lm(cell=cell, num_layers=layers)
    ids = torch.randint(2, VOCAB, (1, 12), generator=torch.Generator().manual_seed(1))
    lengths = torch.tensor([12])
    k = 6
    changed = ids.clone()
    changed[0, k] = (ids[0, k] + 1) % VOCAB
    with torch.no_grad():
        fwd, bwd = model.directions(ids, lengths)
        fwd2, bwd2 = model.directions(changed, lengths)
    moved_fwd = (fwd - fwd2).abs().amax(-1)[0] > 0
    moved_bwd = (bwd - bwd2).abs().amax(-1)[0] > 0
    assert moved_fwd.tolist() == [t >= k for t in range(12)]
    assert moved_bwd.tolist() == [t <= k for t in range(12)]


@pytest.mark.parametrize("softmax", ["adaptive", "full"])
def test_loss_is_the_exact_nll_of_every_neighbour(softmax):
    """forward() sums -log p(next | left) and -log p(previous | right) over every real position, which a
    direct computation from log_probs over the whole vocabulary reproduces; and the distribution is normalised."""
    model = lm(softmax=softmax)
    ids = torch.tensor([[5, 9, 2, 33, 7], [4, 8, 40, 0, 0]])
    lengths = torch.tensor([5, 3])
    with torch.no_grad():
        total, count = model(ids, lengths)
        fwd, bwd = model.directions(ids, lengths)
        expected = 0.0
        for b, n in enumerate(lengths.tolist()):
            for t in range(n):
                if t + 1 < n:
                    expected -= model.log_probs(fwd[b, t : t + 1])[0, ids[b, t + 1]].item()
                if t >= 1:
                    expected -= model.log_probs(bwd[b, t : t + 1])[0, ids[b, t - 1]].item()
        probs = model.log_probs(fwd[0]).exp().sum(-1)
    assert count == 2 * (4 + 2)
    assert total.item() == pytest.approx(expected, rel=1e-5)
    torch.testing.assert_close(probs, torch.ones(5), atol=1e-5, rtol=0)


def test_padding_never_changes_a_texts_loss():
    model = lm()
    ids = torch.tensor([[5, 9, 2, 33, 7], [4, 8, 40, 0, 0]])
    lengths = torch.tensor([5, 3])
    with torch.no_grad():
        together, count = model(ids, lengths)
        a, na = model(ids[:1], lengths[:1])
        b, nb = model(ids[1:, :3], lengths[1:])
    assert count == na + nb
    assert together.item() == pytest.approx((a + b).item(), rel=1e-6)


def test_untrained_perplexity_is_about_the_vocabulary_size():
    """A full softmax starts near uniform (an adaptive one does not: its head favours the head tokens)."""
    model = lm(softmax="full")
    ids = torch.randint(2, VOCAB, (4, 20), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        total, count = model(ids, torch.full((4,), 20))
    assert 0.5 * VOCAB < math.exp(total.item() / count) < 2 * VOCAB


def test_generate_is_seeded_greedy_is_deterministic_and_banned_ids_never_appear():
    model = lm()
    prompt = torch.tensor([3, 4])
    draw = lambda seed: model.generate(prompt, 15, 1.0, None, torch.Generator().manual_seed(seed), banned=(0, 1))
    assert torch.equal(draw(7), draw(7))
    assert not torch.equal(draw(7), draw(8))
    out = draw(7)
    assert out[:2].tolist() == [3, 4] and len(out) == 17 and not set(out[2:].tolist()) & {0, 1}
    greedy = model.generate(prompt, 5, 0.0)
    assert torch.equal(greedy, model.generate(prompt, 5, 0.0))
    top1 = model.generate(prompt, 5, 1.0, 1, torch.Generator().manual_seed(3))
    assert torch.equal(top1, greedy)  # top_k=1 is greedy whatever the seed
    with pytest.raises(ValueError, match="temperature"):
        model.generate(prompt, 1, -1.0)


def test_independent_directions_match_two_separate_encoders():
    """Each direction's stack equals a unidirectional encoder of its own run on the text (backward: reversed)."""
    torch.manual_seed(0)
    both = RecurrentEncoder(4, 3, num_layers=2, bidirectional=True, independent_directions=True)
    fwd = RecurrentEncoder(4, 3, num_layers=2)
    for layer in range(2):
        fwd.cells[layer][0].load_state_dict(both.cells[layer][0].state_dict())
    bwd = RecurrentEncoder(4, 3, num_layers=2)
    for layer in range(2):
        bwd.cells[layer][0].load_state_dict(both.cells[layer][1].state_dict())
    x = torch.randn(1, 7, 4)
    out = both(x, torch.tensor([7]))
    torch.testing.assert_close(out[..., :3], fwd(x))
    torch.testing.assert_close(out[..., 3:], bwd(x.flip(1)).flip(1))
    assert both.cells[1][0].input_size == 3  # layer 2 reads its own direction only


def test_concat_pooling_is_last_max_mean():
    x = torch.randn(2, 5, 4)
    lengths = torch.tensor([5, 2])
    pooled = TimePooling("concat", 4, 2)(x, lengths)
    parts = [TimePooling(mode, 4, 2)(x, lengths) for mode in ("last", "max", "mean")]
    assert pooled.shape == (2, 12) and TimePooling("concat", 4, 2).output_size == 12
    torch.testing.assert_close(pooled, torch.cat(parts, -1))


def test_slanted_triangular_warms_up_then_decays_to_one_over_ratio():
    total = 100
    values = [slanted_triangular(step, total) for step in range(total + 1)]
    peak = max(range(total + 1), key=values.__getitem__)
    assert peak == 10 and values[peak] == pytest.approx(1.0)
    assert values[0] == pytest.approx(1 / 32) and values[-1] == pytest.approx(1 / 32)
    assert all(a <= b for a, b in zip(values[:peak], values[1 : peak + 1]))
    assert all(a >= b for a, b in zip(values[peak:], values[peak + 1 :]))


def test_discriminative_learning_rates_per_layer_group():
    model = TextRNN(vocab_size=VOCAB, num_classes=3, embedding_dim=8, hidden_size=6, num_layers=2, lr=1e-2,
                    lr_decay=2.0)
    from textrnn.models.optim import layer_group_params

    groups = layer_group_params(model.layer_groups(), 1e-2, 2.0)
    assert [g["lr"] for g in groups] == pytest.approx([1e-2 / 8, 1e-2 / 4, 1e-2 / 2, 1e-2])
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    assert groups[0]["params"] == [model.embedding.weight]
    with pytest.raises(ValueError, match="lr_decay"):
        TextRNN(vocab_size=VOCAB, lr_decay=0.5)
    with pytest.raises(ValueError, match="pretrained and embeddings"):
        TextRNN(vocab_size=VOCAB, pretrained="lm.ckpt", embeddings="glove-6b-50d")
