"""Measured speed: the timing helpers measure what they say, and the benchmark suite runs end to end."""

import pandas as pd
import pytest
import torch
from torch import nn

from lib.core import models, timing


class Unreachable(nn.Module):
    def forward(self, x):
        raise AssertionError("the forward pass went past the cut")


def test_prefix_time_runs_forward_and_backward_up_to_the_cut_only():
    net = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), Unreachable())
    assert timing.prefix_seconds(net, torch.randn(4, 8), "1", repeats=2, warmup=1) > 0
    assert net[0].weight.grad is None  # timed on a copy
    with pytest.raises(ValueError, match="features.99"):
        timing.prefix_seconds(net, torch.randn(4, 8), "features.99")


def test_the_deployable_form_computes_the_same_function():
    torch.manual_seed(0)
    net = models.vgg16(10, 1, width=1 / 16, image_size=32).eval()
    for m in net.modules():  # non-trivial BatchNorm statistics, so that folding them matters
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(timing.deployable(net, x)(x), net(x), rtol=1e-4, atol=1e-4)


def test_timings_are_medians_of_positive_durations():
    with pytest.raises(ValueError, match="repeats"):
        timing.median_seconds(lambda: None, repeats=0)
    limits = timing.attainable_gflops(n=64, repeats=2)
    assert set(limits) == {"matmul", "conv_gemm"} and min(limits.values()) > 0


@pytest.mark.slow
def test_the_benchmark_suite_writes_one_table(tmp_path):
    from benchmarks.__main__ import BENCHMARKS, main

    assert main(["--quick", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "results.csv")
    assert set(table.benchmark) == set(BENCHMARKS)
    inference = table[table.benchmark == "pruned_inference"]
    assert inference.speedup_over_mac_ratio.notna().all() and (inference.mac_ratio >= 1).all()
    assert table[table.benchmark == "training_throughput"].of_attainable.between(0, 2).all()
    page = (tmp_path / "results.md").read_text()
    assert "torch_threads" in page and "## pruned_inference" in page
