"""Time textrnn's recurrent encoder against torch's layer on packed sequences, side by side in one run.

One bidirectional layer, batch 32, length 400, 128 -> 128 units, lengths uniform in [200, 400],
forward + backward. Lines, each `name=value` pairs:

    gru      ... the same comparison for a GRU
    explicit ... the gate-by-gate loop (readable reference) against the fused encoder
    speedup_vs_packed=<x> max_abs_diff=<d>     (LSTM; d over real, non-padding positions)

Usage: python benchmarks/rnn_kernels.py [--device cuda] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from textrnn.nn import RecurrentEncoder
from textrnn.nn.encoder import length_mask


def fwd_bwd(fn, x: torch.Tensor, grad: torch.Tensor, params) -> torch.Tensor:
    for p in params:
        p.grad = None
    x.grad = None
    out = fn(x)
    (out * grad).sum().backward()
    return out


def packed_fn(layer: nn.Module, lengths: torch.Tensor):
    def run(x):
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = layer(packed)
        return nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.size(1))[0]

    return run


def timed(fn, x, grad, params, device: torch.device) -> tuple[float, torch.Tensor]:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fwd_bwd(fn, x, grad, params)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def compare(cell: str, args, device, baseline: str) -> tuple[float, float, float, float]:
    """Median seconds of (ours, baseline) over interleaved repeats, and the max abs difference."""
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.length, args.size, device=device, requires_grad=True)
    lengths = torch.randint(args.length // 2, args.length + 1, (args.batch,), device=device)
    lengths[0] = args.length
    grad = torch.randn(args.batch, args.length, 2 * args.size, device=device)
    ours = RecurrentEncoder(args.size, args.size, cell=cell, bidirectional=True).to(device)
    if baseline == "packed":
        other = ours.to_torch()
        other_fn, other_params = packed_fn(other, lengths), list(other.parameters())
        repeats = args.repeats
    else:  # the explicit loop over the same weights
        other = RecurrentEncoder(args.size, args.size, cell=cell, bidirectional=True, implementation="explicit")
        other.load_state_dict(ours.state_dict())
        other = other.to(device)
        other_fn, other_params = (lambda inp: other(inp, lengths)), list(other.parameters())
        repeats = max(1, args.repeats // 3)
    ours_fn, ours_params = (lambda inp: ours(inp, lengths)), list(ours.parameters())
    fwd_bwd(ours_fn, x, grad, ours_params)  # warm-up both
    fwd_bwd(other_fn, x, grad, other_params)
    t_ours, t_other = [], []
    for _ in range(repeats):  # interleaved, so a noisy neighbour slows both alike
        t, out_ours = timed(ours_fn, x, grad, ours_params, device)
        t_ours.append(t)
        t, out_other = timed(other_fn, x, grad, other_params, device)
        t_other.append(t)
    mask = length_mask(lengths, args.length)
    diff = (out_ours - out_other).abs()[mask].max().item()
    return statistics.median(t_ours), statistics.median(t_other), diff, float(lengths.sum().item())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=400)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    threads = torch.get_num_threads()
    print(f"device={device} threads={threads} batch={args.batch} length={args.length} units={args.size} "
          f"lengths~U[{args.length // 2},{args.length}] forward+backward, median of {args.repeats}")
    ours, explicit, diff, _ = compare("lstm", args, device, "explicit")
    print(f"explicit lstm_fused_s={ours:.4f} lstm_explicit_s={explicit:.4f} "
          f"fused_speedup_vs_explicit={explicit / ours:.2f} max_abs_diff={diff:.2e}")
    ours, packed, diff, _ = compare("gru", args, device, "packed")
    print(f"gru ours_s={ours:.4f} packed_s={packed:.4f} speedup_vs_packed={packed / ours:.2f} max_abs_diff={diff:.2e}")
    ours, packed, diff, tokens = compare("lstm", args, device, "packed")
    print(f"lstm ours_s={ours:.4f} packed_s={packed:.4f} real_tokens_per_s={tokens / ours:.0f}")
    print(f"speedup_vs_packed={packed / ours:.2f} max_abs_diff={diff:.2e}")


if __name__ == "__main__":
    main()
