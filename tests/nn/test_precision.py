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
