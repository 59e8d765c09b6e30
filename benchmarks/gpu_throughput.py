"""How close does a full Text-RNN training step come to the bare cuDNN LSTM? Measured side by side in one
run, in tokens per second, at batch 256, length 400, one bidirectional LSTM layer of 128 units, bf16.

* ceiling: ``nn.LSTM`` (cuDNN) forward + backward alone on random (B, T, 128) inputs under bf16 autocast:
  no embedding, no pooling, no loss, no optimizer. No real training step can beat it.
* model_step: textrnn's ``TextRNN`` (embedding -> fused encoder -> pooling -> head -> cross-entropy),
  backward, clipping by norm and an Adam step, in a plain loop under bf16 autocast.
* trainer: the same model trained by ``Trainer.fit(precision="bf16-mixed")``, what ``textrnn fit`` runs.

It also prints the dtype each cell's recurrent kernel really produces under autocast. Lines, the last
one being the result:

    device=<GPU name> ...
    kernel_dtype_lstm=<dtype> kernel_dtype_gru=<dtype> kernel_dtype_rnn=<dtype>
    ceiling_tokens_per_s=<x> model_step_tokens_per_s=<y> trainer_tokens_per_s=<z>
    fraction_of_ceiling=<z / x>

Without a CUDA GPU it prints one line and exits 0. ``--device cpu`` with small shapes runs every code
path on a CPU, as a smoke test (the numbers then mean nothing).

Usage: python benchmarks/gpu_throughput.py [--batch 256] [--length 400] [--steps 30] [--precision bf16-mixed] [--pooling max]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import lightning.pytorch as pl
import torch
from torch import nn

from textrnn.models import TextRNN
from textrnn.nn import POOLINGS, RecurrentEncoder
from textrnn.nn.encoder import cpu_lstm_runs_in

DTYPES = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def tokens_per_s(step, tokens: int, steps: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return tokens * steps / (time.perf_counter() - start)


def ceiling(args, device: torch.device, dtype: torch.dtype) -> float:
    """The bare cuDNN layer, forward + backward, at the benchmark's shape. On a CPU whose fused LSTM has no
    kernel for ``dtype``, float32, as textrnn's encoder falls back to (``cpu_lstm_runs_in``)."""
    layer = nn.LSTM(args.embedding, args.hidden, batch_first=True, bidirectional=True).to(device)
    x = torch.randn(args.batch, args.length, args.embedding, device=device, requires_grad=True)
    reduced = device.type != "cpu" or cpu_lstm_runs_in(dtype)

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype, enabled=reduced):
            out, _ = layer(x)
        out.float().sum().backward()

    return tokens_per_s(step, args.batch * args.length, args.steps, args.warmup, device)


def make_model(args) -> TextRNN:
    return TextRNN(vocab_size=args.vocab, num_classes=5, embedding_dim=args.embedding, hidden_size=args.hidden,
                   cell="lstm", bidirectional=True, pooling=args.pooling, embedding_dropout=0.3, head_dropout=0.5, lr=3e-3)


def make_batch(args, device: torch.device) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "ids": torch.randint(1, args.vocab, (args.batch, args.length), generator=generator).to(device),
        "lengths": torch.full((args.batch,), args.length).to(device),
        "labels": torch.randint(0, 5, (args.batch,), generator=generator).to(device),
    }


def model_step(args, device: torch.device, dtype: torch.dtype) -> float:
    """The full training step in a plain loop."""
    model = make_model(args).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = make_batch(args, device)

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype):
            loss, _ = model.model_step(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    return tokens_per_s(step, args.batch * args.length, args.steps, args.warmup, device)


class StepClock(pl.Callback):
    """Wall time of the steps after warm-up, with the GPU drained at both ends."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.start, self.end, self.steps = warmup, 0.0, 0.0, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == self.warmup:
            sync(pl_module.device)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx >= self.warmup:
            self.steps += 1

    def on_train_end(self, trainer, pl_module) -> None:
        sync(pl_module.device)
        self.end = time.perf_counter()


class RepeatedBatch(torch.utils.data.IterableDataset):
    """The same CPU batch, ``steps`` times: the data side costs what a real loader's host-to-device copy does."""

    def __init__(self, batch: dict[str, torch.Tensor], steps: int) -> None:
        self.batch, self.steps = batch, steps

    def __iter__(self):
        return iter([self.batch] * self.steps)


def trainer_step(args, device: torch.device) -> float:
    """The full training step as ``textrnn fit`` runs it: Trainer, mixed precision, clipping, logging."""
    clock = StepClock(args.warmup)
    data = torch.utils.data.DataLoader(RepeatedBatch(make_batch(args, torch.device("cpu")), args.warmup + args.steps),
                                       batch_size=None, pin_memory=device.type == "cuda")
    trainer = pl.Trainer(
        accelerator=device.type, devices=1, precision=args.precision, max_epochs=1,
        gradient_clip_val=1.0, gradient_clip_algorithm="norm", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[clock],
    )
    trainer.fit(make_model(args), train_dataloaders=data)
    return args.batch * args.length * clock.steps / (clock.end - clock.start)


def kernel_dtypes(args, device: torch.device, dtype: torch.dtype) -> dict[str, torch.dtype]:
    """The dtype each cell's fused kernel returns under autocast (fp32 means it was not cast down)."""
    x = torch.randn(4, 16, args.embedding, device=device)
    found = {}
    for cell in ("lstm", "gru", "rnn"):
        encoder = RecurrentEncoder(args.embedding, args.hidden, cell=cell).to(device)
        with torch.autocast(device.type, dtype=dtype), torch.no_grad():
            found[cell] = encoder(x).dtype
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu for a smoke test")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--length", type=int, default=400)
    parser.add_argument("--embedding", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=30000)
    parser.add_argument("--pooling", default="attention", choices=POOLINGS,
                        help="attention, as configs/textrnn_bilstm.yaml (default)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--precision", default="bf16-mixed", choices=sorted(DTYPES))
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_throughput: no CUDA GPU on this machine, nothing to measure (run it where one is).")
        return 0
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    device = torch.device(args.device)
    dtype = DTYPES[args.precision]
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        name = torch.cuda.get_device_name(device)
    else:
        name = "cpu (smoke test)"
    print(f"device={name!r} torch={torch.__version__} cudnn={torch.backends.cudnn.version()} batch={args.batch} "
          f"length={args.length} hidden={args.hidden} precision={args.precision}")
    print(" ".join(f"kernel_dtype_{cell}={str(dt).removeprefix('torch.')}"
                   for cell, dt in kernel_dtypes(args, device, dtype).items()))
    top = ceiling(args, device, dtype)
    plain = model_step(args, device, dtype)
    full = trainer_step(args, device)
    print(f"ceiling_tokens_per_s={top:.0f} model_step_tokens_per_s={plain:.0f} trainer_tokens_per_s={full:.0f}")
    print(f"fraction_of_ceiling={full / top:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
