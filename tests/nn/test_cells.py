"""The gate-by-gate cells match torch's cells, forward and backward, and share their parameter layout."""

import pytest
import torch
from torch import nn

from textrnn.nn import GRUCell, LSTMCell, RNNCell, make_cell

CASES = [
    (RNNCell, nn.RNNCell, {"nonlinearity": "tanh"}),
    (RNNCell, nn.RNNCell, {"nonlinearity": "relu"}),
    (LSTMCell, nn.LSTMCell, {}),
    (GRUCell, nn.GRUCell, {}),
]


@pytest.mark.parametrize(("ours_cls", "torch_cls", "kwargs"), CASES)
def test_cell_matches_torch_forward_and_backward(ours_cls, torch_cls, kwargs):
    torch.manual_seed(0)
    ref = torch_cls(6, 5, **kwargs).double()
    ours = ours_cls(6, 5, **kwargs).double()
    ours.load_state_dict(ref.state_dict())  # same names, same shapes, same gate order
    x = torch.randn(4, 6, dtype=torch.double)
    is_lstm = ours_cls is LSTMCell
    state = (torch.randn(4, 5, dtype=torch.double), torch.randn(4, 5, dtype=torch.double)) if is_lstm else torch.randn(4, 5, dtype=torch.double)

    out_ref, out = ref(x, state), ours(x, state)
    h_ref, h = (out_ref[0], out[0]) if is_lstm else (out_ref, out)
    torch.testing.assert_close(h, h_ref, atol=1e-6, rtol=0)
    if is_lstm:
        torch.testing.assert_close(out[1], out_ref[1], atol=1e-6, rtol=0)

    loss_ref = sum(o.sin().sum() for o in (out_ref if is_lstm else (out_ref,)))
    loss = sum(o.sin().sum() for o in (out if is_lstm else (out,)))
    loss_ref.backward()
    loss.backward()
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, dict(ref.named_parameters())[name].grad, atol=1e-6, rtol=0)


def test_torch_cell_loads_our_weights():
    ours = LSTMCell(3, 4)
    ref = nn.LSTMCell(3, 4)
    ref.load_state_dict(ours.state_dict())
    x, h, c = torch.randn(2, 3), torch.zeros(2, 4), torch.zeros(2, 4)
    torch.testing.assert_close(ref(x, (h, c))[0], ours(x, (h, c))[0], atol=1e-6, rtol=0)


def test_lstm_gates_by_hand():
    """With all weights zero and biases chosen per gate, the gates do what the docstring says."""
    cell = LSTMCell(1, 1)
    with torch.no_grad():
        for p in cell.parameters():
            p.zero_()
        # gate order i, f, g, o: open the forget gate fully, close the input gate.
        cell.bias_ih.copy_(torch.tensor([-100.0, 100.0, 0.0, 100.0]))
    h, c = cell(torch.ones(1, 1), (torch.zeros(1, 1), torch.full((1, 1), 0.5)))
    assert c.item() == pytest.approx(0.5)  # kept the old cell state, wrote nothing new
    assert h.item() == pytest.approx(torch.tanh(torch.tensor(0.5)).item())


@pytest.mark.parametrize(("kind", "arg"), [("cell", "lstmm"), ("nonlinearity", "sigmoid")])
def test_bad_names_list_the_valid_ones(kind, arg):
    with pytest.raises(ValueError, match=r"valid choices") as err:
        make_cell(arg, 2, 2) if kind == "cell" else make_cell("rnn", 2, 2, nonlinearity=arg)
    assert arg in str(err.value)
