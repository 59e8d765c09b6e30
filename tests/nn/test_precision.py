"""Mixed precision: every cell trains under Lightning's bf16-mixed and 16-mixed, and the bf16 encoder
stays close to the fp32 one. (On CPU Lightning runs 16-mixed as bf16-mixed: fp16 autocast has no CPU
LSTM kernel. GPU dtypes are printed by benchmarks/gpu_throughput.py.)"""

import lightning.pytorch as pl
import pytest
import torch

from textrnn.models import TextRNN
from textrnn.nn import RecurrentEncoder

CELLS = ["rnn", "lstm", "gru"]


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
@pytest.mark.parametrize("cell", CELLS)
def test_every_cell_trains_in_mixed_precision(tiny_datamodule, cell, precision):
    data = tiny_datamodule()
    torch.manual_seed(0)
    model = TextRNN(data.vocab_size, data.num_classes, data.pad_id, embedding_dim=16, hidden_size=16, cell=cell,
                    lr=0.01)
    before = model.head[1].weight.detach().clone()
    trainer = pl.Trainer(accelerator="cpu", precision=precision, max_epochs=1, limit_train_batches=4, limit_val_batches=2, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, datamodule=data)
    metrics = trainer.callback_metrics
    assert torch.isfinite(metrics["train/loss"]) and 0.0 <= metrics["val/acc"].item() <= 1.0
    assert model.head[1].weight.dtype == torch.float32  # mixed precision keeps fp32 master weights
    assert not torch.equal(before, model.head[1].weight.detach())  # and trains them


@pytest.mark.parametrize("implementation", ["fused", "explicit"])
@pytest.mark.parametrize("cell", CELLS)
def test_bf16_autocast_encoder_matches_fp32(cell, implementation):
    torch.manual_seed(0)
    encoder = RecurrentEncoder(8, 16, cell=cell, bidirectional=True, implementation=implementation).eval()
    x, lengths = torch.randn(3, 12, 8), torch.tensor([12, 7, 2])
    with torch.no_grad():
        reference = encoder(x, lengths)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = encoder(x, lengths)
    assert mixed.dtype in (torch.bfloat16, torch.float32)  # fp32 where autocast leaves the kernel alone
    assert mixed.float()[1, 7:].abs().max().item() == 0.0  # padding stays exactly zero
    torch.testing.assert_close(mixed.float(), reference, atol=0.05, rtol=0)  # bf16 keeps ~3 significant digits


@pytest.fixture
def cpu_without_reduced_lstm(monkeypatch):
    """Act as a CPU whose oneDNN has no bf16/fp16 LSTM (an AVX2-only AMD EPYC, say): the fused LSTM raises
    oneDNN's error under CPU autocast and runs as usual in float32."""
    from textrnn.nn import encoder as encoder_module

    real_lstm = torch._VF.lstm

    def lstm(*args, **kwargs):
        if torch.is_autocast_enabled("cpu"):
            raise RuntimeError("could not create a primitive descriptor for the LSTM forward propagation primitive")
        return real_lstm(*args, **kwargs)

    monkeypatch.setattr(torch._VF, "lstm", lstm)
    monkeypatch.setattr(encoder_module, "_CPU_LSTM_RUNS_IN", {})


def test_lstm_runs_in_float32_on_a_cpu_without_a_reduced_kernel_and_says_so_once(cpu_without_reduced_lstm, caplog):
    from textrnn.nn.encoder import cpu_lstm_runs_in

    torch.manual_seed(0)
    encoder = RecurrentEncoder(8, 16, cell="lstm", bidirectional=True).eval()
    x, lengths = torch.randn(3, 12, 8), torch.tensor([12, 7, 2])
    with torch.no_grad():
        reference = encoder(x, lengths)
        with caplog.at_level("WARNING"), torch.autocast("cpu", dtype=torch.bfloat16):
            first = encoder(x, lengths)
            second = encoder(x, lengths)
    assert not cpu_lstm_runs_in(torch.bfloat16)
    notes = [r.getMessage() for r in caplog.records if "LSTM" in r.getMessage()]
    assert len(notes) == 1 and "run in float32" in notes[0]  # said once, not once a batch
    assert first.dtype == torch.float32
    torch.testing.assert_close(first, reference, atol=1e-6, rtol=0)  # the fp32 kernel: the fp32 numbers
    assert torch.equal(first, second)


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_lstm_trains_in_mixed_precision_on_a_cpu_without_a_reduced_kernel(tiny_datamodule, cpu_without_reduced_lstm,
                                                                           precision):
    test_every_cell_trains_in_mixed_precision(tiny_datamodule, "lstm", precision)


def test_the_native_reduced_lstm_is_used_where_the_cpu_has_one():
    from textrnn.nn.encoder import cpu_lstm_runs_in

    if not cpu_lstm_runs_in(torch.bfloat16):
        pytest.skip("this CPU has no bf16 LSTM kernel; the float32 fallback is tested above on every CPU")
    encoder = RecurrentEncoder(8, 16, cell="lstm").eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert encoder(torch.randn(2, 5, 8), torch.tensor([5, 3])).dtype == torch.bfloat16


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_the_kernel_probe_answers_the_same_inside_no_grad_and_inference_mode(monkeypatch, context):
    from textrnn.nn import encoder as encoder_module

    monkeypatch.setattr(encoder_module, "_CPU_LSTM_RUNS_IN", {})
    outside = encoder_module.cpu_lstm_runs_in(torch.bfloat16)
    monkeypatch.setattr(encoder_module, "_CPU_LSTM_RUNS_IN", {})
    with context():
        assert encoder_module.cpu_lstm_runs_in(torch.bfloat16) == outside
