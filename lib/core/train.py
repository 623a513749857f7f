"""Training and evaluation loops (CPU-friendly, deterministic for a given seed on a given CPU).

The loops run unchanged in one process or in several launched by ``torchrun``: under ``torch.distributed``
every process trains on its share of each global batch through :func:`parallel` (DistributedDataParallel),
so the gradient is that of the whole batch, and the epoch's loss and accuracy are summed over processes.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
import warnings
from collections.abc import Callable, Iterable

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..params.schema import DEVICES, OPTIMIZERS, SCHEDULES


def device(name: str) -> torch.device:
    """The torch device ``name`` (one of :data:`DEVICES`) stands for on this machine.

    >>> device("cpu")
    device(type='cpu')
    """
    if name not in DEVICES:
        raise ValueError(f"device {name!r}; allowed: {list(DEVICES)}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' asked for, but torch sees no CUDA device here; use 'auto' or 'cpu'")
    return torch.device(name)


def world() -> tuple[int, int]:
    """``(rank, number of processes)`` of this process in torch.distributed's default group; ``(0, 1)`` outside one.

    >>> world()
    (0, 1)
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed() -> tuple[int, int]:
    """Join the process group ``torchrun`` set up in the environment (``WORLD_SIZE`` > 1): NCCL with one GPU per
    process where CUDA is available, gloo on CPUs. A no-op in a single process. Returns :func:`world`."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if cuda else "gloo")
    return world()


def parallel(model: nn.Module) -> nn.Module:
    """The module to train: ``model`` itself in a single process; under torch.distributed, ``model`` wrapped in
    DistributedDataParallel (which shares its parameters, so training it trains ``model``). On CUDA its
    BatchNorm layers become SyncBatchNorm, normalising over the whole global batch as one process does;
    undo that with :func:`local_batchnorm` after training. On CPUs (gloo) torch has no SyncBatchNorm: each
    process normalises over its share, so networks with BatchNorm differ from the single-process run."""
    if world()[1] == 1:
        return model
    dev = next(model.parameters()).device
    if dev.type == "cuda":
        return nn.parallel.DistributedDataParallel(nn.SyncBatchNorm.convert_sync_batchnorm(model), device_ids=[dev])
    return nn.parallel.DistributedDataParallel(model)


def local_batchnorm(model: nn.Module) -> nn.Module:
    """Turn the SyncBatchNorm layers :func:`parallel` made back into BatchNorm2d, in place, keeping their
    parameters and statistics (the VGG networks trained data-parallel have 2-d BatchNorm only).

    >>> net = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.BatchNorm2d(3)))
    >>> type(local_batchnorm(net)[0]).__name__
    'BatchNorm2d'
    """
    for name, child in model.named_children():
        if isinstance(child, nn.SyncBatchNorm):
            bn = nn.BatchNorm2d(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
            bn.load_state_dict(child.state_dict(), assign=True)  # takes the tensors as they are, on their device
            setattr(model, name, bn)
        else:
            local_batchnorm(child)
    return model


def autocast(dev: torch.device, amp: bool) -> contextlib.AbstractContextManager:
    """Mixed precision where it is asked for and runs: bfloat16 autocast on CUDA when ``amp`` (bfloat16 has
    float32's range, so no loss scaling); a no-op on CPUs, which always compute in float32."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp and dev.type == "cuda")


def make_optimizer(
    name: str, params: Iterable[nn.Parameter], lr: float, momentum: float = 0.0, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """``"sgd"`` (with ``momentum``), ``"nesterov"`` (SGD with Nesterov momentum) or ``"adam"``. Build it *after*
    pruning: pruning replaces parameters."""
    if name in ("sgd", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=name == "nesterov")
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer {name!r}; allowed: {list(OPTIMIZERS)}")


def make_scheduler(
    name: str, optimizer: torch.optim.Optimizer, steps: int, start: int = 0
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """``constant`` (none), ``cosine`` (from the optimizer's lr down to 0 over ``steps`` batches) or ``onecycle``
    (a quarter of the steps warming up to the optimizer's lr, then cosine down to ≈0; at least 8 steps long),
    already ``start`` steps in: a phase that carries on a schedule an earlier phase began (on a fresh optimizer).

    >>> opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> round(make_scheduler("cosine", opt, 4, start=2).get_last_lr()[0], 3)
    0.5
    """
    if name == "constant":
        return None
    if name == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, steps))
    elif name == "onecycle":
        lr = optimizer.param_groups[0]["lr"]
        sched = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(8, steps), pct_start=0.25)
    else:
        raise ValueError(f"schedule {name!r}; allowed: {list(SCHEDULES)}")
    with warnings.catch_warnings():  # stepping the schedule before any optimizer step is what is meant here
        warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step\\(\\)` before", UserWarning)
        for _ in range(start):
            sched.step()
    return sched


#: A batch objective: ``(model, x, y) → (mean loss, number of correct predictions or None)``.
Loss = Callable[[nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, int | None]]


def classification(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Mean cross-entropy of a batch and how many of its predictions are right (the default :data:`Loss`)."""
    logits = model(x)
    return F.cross_entropy(logits, y), int((logits.argmax(1) == y).sum())


def _summary(total: int, loss_sum: float, correct: int | None) -> dict[str, float]:
    return {"loss": loss_sum / total} | ({} if correct is None else {"acc": correct / total})


def _sum_over_processes(*values: float) -> list[float]:
    if world()[1] == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


def train_epoch(
    model: nn.Module,
    batches: Iterable,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    loss: Loss = classification,
    amp: bool = False,
) -> dict[str, float]:
    """One pass of training on ``loss`` (``scheduler`` stepped after every batch; ``amp``: see :func:`autocast`).
    Returns the mean loss, the accuracy on the training batches as they were seen during the epoch
    ("train-batch accuracy"; absent if ``loss`` counts none), and the wall time.

    Under torch.distributed (``model`` from :func:`parallel`) each of the ``n`` processes takes the ``rank``-th
    of ``n`` contiguous parts of every batch and weighs its mean loss by its share, so the averaged gradient
    is the whole batch's (every batch must hold at least ``n`` samples)."""
    model.train()
    rank, size = world()
    dev = next(model.parameters()).device
    start, total, loss_sum, correct = time.perf_counter(), 0, 0.0, 0
    for x, y in batches:
        n = len(y)
        if size > 1:
            x, y = x.tensor_split(size)[rank], y.tensor_split(size)[rank]
        optimizer.zero_grad(set_to_none=True)
        with autocast(dev, amp):
            value, right = loss(model, x, y)
        (value if size == 1 else value * (len(y) * size / n)).backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total += len(y)
        loss_sum += value.item() * len(y)
        correct = None if right is None else correct + right
    if size > 1:
        total, loss_sum, summed = _sum_over_processes(total, loss_sum, correct or 0)
        correct = None if correct is None else int(summed)
    return _summary(total, loss_sum, correct) | {"seconds": time.perf_counter() - start}


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable, loss: Loss = classification, amp: bool = False) -> dict[str, float]:
    """Mean ``loss`` (and accuracy, if it counts one) in eval mode (``amp``: see :func:`autocast`). Every
    process of a distributed run evaluates all of ``batches`` on its identical replica."""
    model.eval()
    dev = next(model.parameters()).device
    total, loss_sum, correct = 0, 0.0, 0
    for x, y in batches:
        with autocast(dev, amp):
            value, right = loss(model, x, y)
        total += len(y)
        loss_sum += value.item() * len(y)
        correct = None if right is None else correct + right
    return _summary(total, loss_sum, correct)


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, batches: Iterable, n_batches: int) -> None:
    """Re-estimate every BatchNorm's running statistics from ``n_batches`` training batches (cumulative
    average, no weight update). Pruning changes the distributions BatchNorm normalises."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or n_batches < 1:
        return
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for i, (x, _) in enumerate(batches):
        if i >= n_batches:
            break
        model(x)
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    model.eval()


def seed_everything(value: int) -> None:
    """Seed python, numpy and torch, and make torch's CPU kernels deterministic."""
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)
    torch.use_deterministic_algorithms(True, warn_only=True)
