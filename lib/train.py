"""Training and evaluation loops (CPU-friendly, deterministic for a given seed)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn


#: Devices a profile may name: ``auto`` is CUDA when available, else the CPU.
DEVICES = ("auto", "cpu", "cuda")


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


#: Optimizers a profile may name.
OPTIMIZERS = ("sgd", "adam")


def make_optimizer(name: str, params: Iterable[nn.Parameter], lr: float, momentum: float = 0.0,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """``"sgd"`` (with ``momentum``) or ``"adam"``. Build it *after* pruning: pruning replaces parameters."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer {name!r}; allowed: {list(OPTIMIZERS)}")


#: Learning-rate schedules over one training phase, stepped once per batch.
SCHEDULES = ("constant", "cosine", "onecycle")


def make_scheduler(name: str, optimizer: torch.optim.Optimizer, steps: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """``constant`` (none), ``cosine`` (from the optimizer's lr down to 0 over ``steps`` batches) or ``onecycle``
    (a quarter of the steps warming up to the optimizer's lr, then cosine down to ≈0; at least 8 steps long)."""
    if name == "constant":
        return None
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, steps))
    if name == "onecycle":
        lr = optimizer.param_groups[0]["lr"]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(8, steps), pct_start=0.25)
    raise ValueError(f"schedule {name!r}; allowed: {list(SCHEDULES)}")


#: A batch objective: ``(model, x, y) → (mean loss, number of correct predictions or None)``.
Loss = Callable[[nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, int | None]]


def classification(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Mean cross-entropy of a batch and how many of its predictions are right (the default :data:`Loss`)."""
    logits = model(x)
    return F.cross_entropy(logits, y), int((logits.argmax(1) == y).sum())


def _summary(total: int, loss_sum: float, correct: int | None) -> dict[str, float]:
    return {"loss": loss_sum / total} | ({} if correct is None else {"acc": correct / total})


def train_epoch(model: nn.Module, batches: Iterable, optimizer: torch.optim.Optimizer,
                scheduler: torch.optim.lr_scheduler.LRScheduler | None = None, loss: Loss = classification) -> dict[str, float]:
    """One pass of training on ``loss`` (``scheduler`` stepped after every batch). Returns the mean loss, the
    accuracy on the training batches as they were seen during the epoch ("train-batch accuracy"; absent if
    ``loss`` counts none), and the wall time."""
    model.train()
    start, total, loss_sum, correct = time.perf_counter(), 0, 0.0, 0
    for x, y in batches:
        optimizer.zero_grad(set_to_none=True)
        value, right = loss(model, x, y)
        value.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total += len(y)
        loss_sum += value.item() * len(y)
        correct = None if right is None else correct + right
    return _summary(total, loss_sum, correct) | {"seconds": time.perf_counter() - start}


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable, loss: Loss = classification) -> dict[str, float]:
    """Mean ``loss`` (and accuracy, if it counts one) in eval mode."""
    model.eval()
    total, loss_sum, correct = 0, 0.0, 0
    for x, y in batches:
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
