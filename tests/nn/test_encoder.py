"""The recurrent encoder: exact against packed torch layers, fused == explicit, dropout variants."""

import itertools

import pytest
import torch
from torch import nn

from textrnn.nn import ConvEncoder, RecurrentEncoder, TimePooling

GRID = list(itertools.product(["rnn", "lstm", "gru"], [1, 2], [False, True]))
LENGTHS = torch.tensor([11, 4, 7, 1, 9])


def padded_input(dtype=torch.float32):
    torch.manual_seed(1)
    return torch.randn(len(LENGTHS), int(LENGTHS.max()), 6, dtype=dtype)


@pytest.mark.parametrize(("cell", "layers", "bidirectional"), GRID)
def test_matches_packed_torch_layer(cell, layers, bidirectional):
    torch.manual_seed(0)
    enc = RecurrentEncoder(6, 5, cell=cell, num_layers=layers, bidirectional=bidirectional)
    x = padded_input()
    packed = nn.utils.rnn.pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False)
    ref, _ = enc.to_torch()(packed)
    ref, _ = nn.utils.rnn.pad_packed_sequence(ref, batch_first=True, total_length=x.size(1))
    torch.testing.assert_close(enc(x, LENGTHS), ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize(("cell", "layers", "bidirectional"), GRID)
def test_fused_and_explicit_agree_forward_and_backward(cell, layers, bidirectional):
    torch.manual_seed(0)
    fused = RecurrentEncoder(6, 5, cell=cell, num_layers=layers, bidirectional=bidirectional, init_state="learned")
    explicit = RecurrentEncoder(6, 5, cell=cell, num_layers=layers, bidirectional=bidirectional,
                                init_state="learned", implementation="explicit")
    explicit.load_state_dict(fused.state_dict())  # a model trained with one runs with the other
    with torch.no_grad():
        for p in fused.parameters():
            if p.dim() == 2 and p.shape[0] == layers * (2 if bidirectional else 1):
                p.normal_()  # make the learned initial state non-zero
        explicit.load_state_dict(fused.state_dict())
    x1 = padded_input().requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    out1, out2 = fused(x1, LENGTHS), explicit(x2, LENGTHS)
    torch.testing.assert_close(out1, out2, atol=1e-5, rtol=0)
    weights = torch.randn_like(out1)
    (out1 * weights).sum().backward()
    (out2 * weights).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, atol=1e-5, rtol=0)
    grads2 = dict(explicit.named_parameters())
    for name, p in fused.named_parameters():
        torch.testing.assert_close(p.grad, grads2[name].grad, atol=1e-5, rtol=0, msg=name)


def test_padding_positions_are_zero_and_real_positions_ignore_padding():
    enc = RecurrentEncoder(6, 5, cell="lstm", bidirectional=True)
    x = padded_input()
    out = enc(x, LENGTHS)
    assert out[1, 4:].abs().max() == 0
    noisy = x.clone()
    noisy[1, 4:] = 1e3  # garbage in the padding of text 1
    torch.testing.assert_close(enc(noisy, LENGTHS)[1], out[1], atol=1e-6, rtol=0)


def test_backward_direction_starts_at_each_texts_last_token():
    """The backward half at position 0 equals a fresh backward run over just that text."""
    enc = RecurrentEncoder(6, 5, cell="gru", bidirectional=True)
    x = padded_input()
    out = enc(x, LENGTHS)
    for i, n in enumerate(LENGTHS.tolist()):
        alone = enc(x[i : i + 1, :n])
        torch.testing.assert_close(out[i : i + 1, :n], alone, atol=1e-6, rtol=0)


@pytest.mark.parametrize("variational", [False, True])
def test_dropout_only_in_training(variational):
    enc = RecurrentEncoder(6, 5, input_dropout=0.5, dropout=0.5, output_dropout=0.5, num_layers=2,
                           variational=variational)
    x = padded_input()
    enc.eval()
    torch.testing.assert_close(enc(x, LENGTHS), enc(x, LENGTHS))
    enc.train()
    torch.manual_seed(0)
    a = enc(x, LENGTHS)
    torch.manual_seed(1)
    b = enc(x, LENGTHS)
    assert (a - b).abs().max() > 1e-3


def test_variational_mask_is_shared_across_time():
    enc = RecurrentEncoder(4, 3, input_dropout=0.5, variational=True).train()
    x = torch.ones(2, 50, 4)
    dropped = enc._drop(x, 0.5)  # (B, T, D)
    assert torch.equal(dropped, dropped[:, :1].expand_as(dropped))  # same mask at every step
    assert set(dropped.unique().tolist()) <= {0.0, 2.0}
    plain = RecurrentEncoder(4, 3, input_dropout=0.5).train()._drop(x, 0.5)
    assert not torch.equal(plain, plain[:, :1].expand_as(plain))


def test_learned_initial_state_gets_gradients():
    enc = RecurrentEncoder(6, 5, cell="lstm", init_state="learned")
    enc(padded_input(), LENGTHS).sum().backward()
    assert enc.h0.grad.abs().sum() > 0 and enc.c0.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [({"cell": "lstmm"}, "lstmm"), ({"implementation": "cudnn"}, "cudnn"), ({"init_state": "random"}, "random")],
)
def test_bad_names_list_the_valid_ones(kwargs, bad):
    with pytest.raises(ValueError, match="valid choices") as err:
        RecurrentEncoder(3, 3, **kwargs)
    assert bad in str(err.value)


@pytest.mark.parametrize("mode", ["last", "max", "mean", "attention"])
def test_pooling_reads_only_real_positions(mode):
    torch.manual_seed(0)
    pool = TimePooling(mode, 4, num_directions=2)
    x = torch.randn(3, 8, 4)
    lengths = torch.tensor([8, 3, 1])
    pooled = pool(x, lengths)
    x_noisy = x.clone()
    x_noisy[1, 3:] = 100.0
    x_noisy[2, 1:] = -100.0
    torch.testing.assert_close(pool(x_noisy, lengths), pooled)
    if mode == "last":
        torch.testing.assert_close(pooled[1], torch.cat([x[1, 2, :2], x[1, 0, 2:]]))
    if mode == "mean":
        torch.testing.assert_close(pooled[1], x[1, :3].mean(0))


def test_conv_encoder_ignores_padding_and_handles_short_texts():
    torch.manual_seed(0)
    conv = ConvEncoder(4, (3, 4, 5), 6)
    lengths = torch.tensor([12, 2])
    x = torch.randn(2, 12, 4)
    x[1, 2:] = 0.0  # zero vectors for padding, as the embedding's padding_idx gives
    out = conv(x, lengths)
    assert out.shape == (2, 18)
    torch.testing.assert_close(conv(x[1:, :2], lengths[1:]), out[1:], atol=1e-6, rtol=0)
