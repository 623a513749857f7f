"""Measured speed on this machine: latency and throughput of (pruned) networks, training throughput against
the machine's attainable matrix-multiply rate, and the time of a network's first layers (Fig. 3's device).

MACs stand in for time everywhere else in the project; these functions measure it. Every timing is the
median of ``repeats`` calls after ``warmup`` calls, synchronised on CUDA. Timings depend on the machine, its
load and its thread count: compare numbers measured in the same run only.

>>> net = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2))
>>> x = torch.zeros(16, 8)
>>> inference_seconds(net, x, repeats=3, warmup=1) > 0
True
>>> forward_flop(nn.Linear(8, 4, bias=False), x[:1])  # 2 FLOPs per multiply-accumulate: 2 · 8 · 4
64.0
"""

from __future__ import annotations

import copy
import statistics
import time
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import prune


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def median_seconds(
    fn: Callable[[], object], repeats: int = 5, warmup: int = 2, dev: torch.device | None = None
) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` calls, after ``warmup`` untimed calls."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be ≥ 1 and warmup ≥ 0, got {repeats}, {warmup}")
    dev = dev or torch.device("cpu")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync(dev)
        start = time.perf_counter()
        fn()
        _sync(dev)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def attainable_gflops(n: int = 2048, repeats: int = 5, dev: torch.device | None = None) -> dict[str, float]:
    """The machine's practical float32 limit, in GFLOP/s, measured two ways: an ``n × n`` matrix multiply
    (``matmul``: BLAS, MKL on x86 CPUs) and the same GEMM as a 1×1 convolution (``conv_gemm``: oneDNN on CPUs,
    the library that runs the networks' convolutions). On some CPUs the two differ twofold (MKL does not use
    AVX-512 on AMD processors); the larger is what the machine can do."""
    dev = dev or torch.device("cpu")
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    channels, side = n // 2, max(1, int((2 * n) ** 0.5))  # (2n positions × n/2) · (n/2 × n/2): n³/2 MACs
    conv = nn.Conv2d(channels, channels, 1, bias=False).to(dev, memory_format=torch.channels_last).eval()
    x = torch.randn(1, channels, side, side, device=dev).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        conv_s = median_seconds(lambda: conv(x), repeats, 2, dev)
    return {
        "matmul": 2 * n**3 / median_seconds(lambda: a @ b, repeats, 2, dev) / 1e9,
        "conv_gemm": 2 * channels**2 * side**2 / conv_s / 1e9,
    }


def forward_flop(model: nn.Module, example: torch.Tensor) -> float:
    """FLOPs of one forward pass of ``example``: 2 per multiply-accumulate counted by torch-pruning (which also
    counts bias additions and activations as one each; for the convolutional networks they are < 1 %)."""
    return 2.0 * prune.count(model, example)["macs"]


def inference_seconds(model: nn.Module, x: torch.Tensor, repeats: int = 5, warmup: int = 2) -> float:
    """Median seconds of one forward pass of the batch ``x`` in eval mode, without gradients."""
    model.eval()
    with torch.no_grad():
        return median_seconds(lambda: model(x), repeats, warmup, x.device)


def train_step_seconds(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    repeats: int = 5,
    warmup: int = 2,
    loss: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> float:
    """Median seconds of one SGD step (forward, loss, backward, update) on the batch ``x, y``, on a copy of
    ``model`` (the model itself is not trained). ``loss`` defaults to cross-entropy."""
    net = copy.deepcopy(model).train()
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    objective = loss or (lambda m, a, b: F.cross_entropy(m(a), b))

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        objective(net, x, y).backward()
        opt.step()

    return median_seconds(step, repeats, warmup, x.device)


class _Cut(Exception):
    """Raised by a forward hook to stop a forward pass at the cut layer."""

    def __init__(self, output: torch.Tensor) -> None:
        self.output = output


def prefix_seconds(model: nn.Module, x: torch.Tensor, cut_layer: str, repeats: int = 5, warmup: int = 2) -> float:
    """Median seconds of a forward and backward pass through ``model`` up to and including ``cut_layer`` (the
    split-learning device's share of a training step on the batch ``x``; the gradient arriving at the cut is
    all ones). Any network works: a hook stops the forward pass at the cut."""
    modules = dict(model.named_modules())
    if cut_layer not in modules:
        raise ValueError(f"cut_layer {cut_layer!r} is not a module of the model")
    net = copy.deepcopy(model).train()
    cut = dict(net.named_modules())[cut_layer]

    def stop(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
        raise _Cut(out)

    handle = cut.register_forward_hook(stop)

    def step() -> None:
        net.zero_grad(set_to_none=True)
        try:
            net(x)
        except _Cut as c:
            c.output.backward(torch.ones_like(c.output))
        else:  # pragma: no cover - the hook always fires
            raise RuntimeError(f"the forward pass never reached {cut_layer!r}")

    try:
        return median_seconds(step, repeats, warmup, x.device)
    finally:
        handle.remove()


def deployable(model: nn.Module, example: torch.Tensor) -> torch.jit.ScriptModule:
    """An inference form of ``model`` for timing (outputs unchanged up to float rounding): traced and
    frozen by ``torch.jit.optimize_for_inference``, which folds BatchNorm into the preceding convolution and
    fuses convolution with ReLU, so the per-layer memory passes that do not shrink with the MACs disappear."""
    net = copy.deepcopy(model).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated; torch.compile takes ~30 s per shape
        return torch.jit.optimize_for_inference(torch.jit.trace(net, example))
