"""Data-parallel training: two gloo processes on CPU train a small network exactly as one process does
with the same global batch (to float tolerance: the gradients are summed in another order)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from lib.core import data, train
from lib.params.paths import ROOT


def train_small(out: str | None = None) -> dict:
    """Three epochs of SGD with momentum on a small CNN and 91 random images in batches of 32 (the last batch
    is uneven, so each process's share is weighed); run alone or under ``torchrun``."""
    rank, _ = train.init_distributed()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(91, 1, 8, 8, generator=g), torch.randint(0, 3, (91,), generator=g)
    net = train.parallel(model)
    opt = train.make_optimizer("sgd", net.parameters(), 0.1, momentum=0.9)
    rows = [train.train_epoch(net, data.TensorLoader(x, y, 32, shuffle=True, seed=e), opt) for e in range(3)]
    result = {
        "state": model.state_dict(),
        "rows": rows,
        "distributed": isinstance(net, nn.parallel.DistributedDataParallel),
    }
    if out is not None and rank == 0:
        torch.save(result, out)
    return result


@pytest.mark.slow
def test_two_gloo_processes_train_like_one(tmp_path: Path):
    out = tmp_path / "ddp.pt"
    script = tmp_path / "worker.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom tests.test_parallel import train_small\n"
        f"train_small({str(out)!r})\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    both, one = torch.load(out, weights_only=False), train_small()
    assert both["distributed"] and not one["distributed"]
    for name, value in one["state"].items():
        torch.testing.assert_close(both["state"][name], value, rtol=1e-4, atol=1e-5, msg=name)
    for a, b in zip(both["rows"], one["rows"]):
        assert a["acc"] == pytest.approx(b["acc"], abs=1 / 91) and a["loss"] == pytest.approx(b["loss"], rel=1e-4)
    torch.manual_seed(0)
    initial = nn.Conv2d(1, 4, 3).weight
    assert (both["state"]["0.weight"] - initial).abs().max() > 1e-2, "training moved no weight: the comparison is empty"


def test_one_process_is_not_distributed():
    assert train.init_distributed() == (0, 1)
    net = nn.Linear(2, 2)
    assert train.parallel(net) is net
