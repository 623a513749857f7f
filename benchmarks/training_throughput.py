"""Training throughput of each protocol's network against what this machine can do.

One SGD step of the default profile's networks — VGG-16-BN ×0.25 (FlexRel, batch 128, channels_last as the
protocol trains it, and contiguous for comparison), the rank paper's MLP (batch 256) and the VAE (batch 128) —
in images/s and in achieved GFLOP/s (3 × the forward FLOPs: the backward pass costs about twice the forward),
beside the attainable float32 GFLOP/s measured in the same run: the larger of a 2048² matrix multiply and the
same GEMM as a 1×1 convolution (oneDNN, which runs the convolutions; on AMD CPUs the matrix multiply's MKL
reaches half of it). ``of_attainable`` is the figure of merit; ``of_matmul`` is the same against the matrix
multiply alone (the limit the project's goal of ≥ 0.65 for VGG ×0.25 was first stated against), which
overstates the ratio wherever the matrix multiply is not the machine's fastest kernel.

    .venv/bin/python -m benchmarks.training_throughput
"""

from __future__ import annotations

import pandas as pd
import torch

from benchmarks import profile
from lib.core import timing
from lib.params import profiles
from lib.protocols import base_networks, train_time, train_time_vae


def cases(name: str) -> list[tuple[str, torch.nn.Module, torch.Tensor, torch.Tensor, object]]:
    """``(name, network, batch x, batch y, loss or None)`` of every protocol's network in profile ``name``."""
    fp, rp, vp = (profiles.load(s, name) for s in ("flexrel", "rank", "vae"))
    x = torch.randn(fp.batch_size, 1, fp.image_size, fp.image_size)
    y = torch.randint(0, 10, (fp.batch_size,))
    vgg = base_networks.build(fp, 0)
    net = train_time.build(rp, "MNIST", 0)
    v = train_time_vae.build(vp, vp.hidden, 0)
    xv = torch.rand(vp.batch_size, 1, vp.image_size, vp.image_size)
    return [
        (
            f"vgg16_bn x{fp.width:g} channels_last",
            base_networks.place(vgg, torch.device("cpu")),
            x.contiguous(memory_format=torch.channels_last),
            y,
            None,
        ),
        (f"vgg16_bn x{fp.width:g} contiguous", base_networks.build(fp, 0), x, y, None),
        ("mlp 784-50-30-10", net, torch.randn(rp.batch_size, 784), torch.randint(0, 10, (rp.batch_size,)), None),
        (
            f"vae {vp.channels}/{vp.hidden}",
            v,
            xv,
            torch.zeros(vp.batch_size),
            lambda m, a, b: train_time_vae.loss(m, a, vp.beta),
        ),
    ]


def run(quick: bool = False) -> pd.DataFrame:
    repeats = 2 if quick else 10
    limits = timing.attainable_gflops(512 if quick else 2048)
    rows = []
    for name, net, x, y, loss in cases(profile(quick)):
        step = timing.train_step_seconds(net, x, y, repeats=repeats, loss=loss)
        gflop = 3 * timing.forward_flop(net, x[:1]) / 1e9
        rows.append(
            {
                "network": name,
                "batch": len(x),
                "step_s": step,
                "images_per_s": len(x) / step,
                "gflops": gflop * len(x) / step,
                "matmul_gflops": limits["matmul"],
                "conv_gemm_gflops": limits["conv_gemm"],
                "attainable_gflops": max(limits.values()),
            }
        )
    frame = pd.DataFrame(rows)
    frame["of_attainable"] = frame.gflops / frame.attainable_gflops
    frame["of_matmul"] = frame.gflops / frame.matmul_gflops
    return frame


if __name__ == "__main__":
    print(run().to_string())
