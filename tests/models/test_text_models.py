"""Text-RNN and Text-CNN: padding never changes a text's result; fused and explicit models agree;
gradient clipping by value and by norm does what it says."""

import itertools

import lightning.pytorch as pl
import pytest
import torch

from textrnn.models import TextCNN, TextRNN

RNN_GRID = list(itertools.product(["rnn", "lstm", "gru"], [False, True], ["last", "max", "mean", "attention"]))


def ragged_batch(vocab: int = 60, lengths=(40, 9, 3, 1)):
    """Right-padded ids (B, T) with pad id 0, and their lengths."""
    gen = torch.Generator().manual_seed(0)
    lengths = torch.tensor(lengths)
    ids = torch.randint(1, vocab, (len(lengths), int(lengths.max())), generator=gen)
    ids[torch.arange(ids.size(1)) >= lengths.unsqueeze(1)] = 0
    return ids, lengths


def assert_padding_invariant(model):
    model.eval()
    ids, lengths = ragged_batch()
    with torch.no_grad():
        together = model(ids, lengths)
        alone = torch.cat([model(ids[i : i + 1, :n], lengths[i : i + 1]) for i, n in enumerate(lengths.tolist())])
    assert together.shape == (len(lengths), 4)
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize(("cell", "bidirectional", "pooling"), RNN_GRID)
def test_text_rnn_padding_never_changes_a_texts_logits(cell, bidirectional, pooling):
    torch.manual_seed(0)
    model = TextRNN(vocab_size=60, num_classes=4, embedding_dim=8, hidden_size=6, cell=cell,
                    bidirectional=bidirectional, pooling=pooling, num_layers=2)
    assert_padding_invariant(model)


def test_text_rnn_relu_cell_is_padding_invariant():
    torch.manual_seed(0)
    assert_padding_invariant(TextRNN(vocab_size=60, num_classes=4, embedding_dim=8, hidden_size=6, cell="rnn",
                                     nonlinearity="relu"))


@pytest.mark.parametrize("pooling", ["max", "mean"])
def test_text_cnn_padding_never_changes_a_texts_logits(pooling):
    torch.manual_seed(0)
    assert_padding_invariant(TextCNN(vocab_size=60, num_classes=4, embedding_dim=8, num_filters=5, pooling=pooling))


@pytest.mark.parametrize("pooling", ["max", "mean"])
def test_conv_pooling_reads_only_windows_inside_the_text(pooling):
    """Pooled features equal a direct max/mean over the windows that start inside each text."""
    from textrnn.nn import ConvEncoder

    torch.manual_seed(0)
    encoder = ConvEncoder(4, (2, 3), num_filters=3, pooling=pooling)
    x, lengths = torch.randn(2, 7, 4), torch.tensor([7, 4])
    x[1, 4:] = 0.0
    pooled = encoder(x, lengths)  # (2, 6)
    for row, n in enumerate(lengths.tolist()):
        expected = []
        for k, conv in zip((2, 3), encoder.convs):
            windows = torch.relu(conv(x[row : row + 1, :n].transpose(1, 2)))[0]  # (F, n - k + 1)
            expected.append(windows.amax(1) if pooling == "max" else windows.mean(1))
        torch.testing.assert_close(pooled[row], torch.cat(expected), atol=1e-6, rtol=0)


def test_conv_pooling_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"'attention'.*valid choices are \('max', 'mean'\)"):
        TextCNN(vocab_size=10, num_classes=2, pooling="attention")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_fused_weights_run_in_the_explicit_model(cell):
    torch.manual_seed(0)
    fused = TextRNN(vocab_size=60, num_classes=4, embedding_dim=8, hidden_size=6, cell=cell, num_layers=2).eval()
    explicit = TextRNN(vocab_size=60, num_classes=4, embedding_dim=8, hidden_size=6, cell=cell, num_layers=2,
                       implementation="explicit").eval()
    explicit.load_state_dict(fused.state_dict())
    ids, lengths = ragged_batch()
    torch.testing.assert_close(fused(ids, lengths), explicit(ids, lengths), atol=1e-5, rtol=0)


def test_bad_pooling_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"'maxx'.*valid choices"):
        TextRNN(vocab_size=10, num_classes=2, pooling="maxx")


@pytest.mark.parametrize(("algorithm", "clip"), [("value", 0.01), ("norm", 0.05)])
def test_gradient_clipping(tiny_datamodule, algorithm, clip):
    """With plain SGD at lr 1, one step moves the weights by exactly minus the clipped gradient."""
    data = tiny_datamodule(bucket=False)
    torch.manual_seed(0)
    model = TextCNN(data.vocab_size, data.num_classes, data.pad_id, embedding_dim=16, num_filters=8,
                    dropout=0.0, optimizer="sgd", lr=1.0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer = pl.Trainer(max_steps=1, gradient_clip_val=clip, gradient_clip_algorithm=algorithm, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         limit_val_batches=0)
    trainer.fit(model, datamodule=data)
    steps = torch.cat([(before[n] - p.detach()).flatten() for n, p in model.named_parameters()])
    if algorithm == "value":
        assert steps.abs().max().item() == pytest.approx(clip, rel=1e-4)  # clipped, and some element hit the bound
    else:
        assert steps.norm().item() == pytest.approx(clip, rel=1e-4)  # the whole gradient rescaled to the bound
