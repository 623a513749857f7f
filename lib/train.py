"""Training and evaluation loops (CPU-friendly, deterministic for a given seed)."""

from __future__ import annotations

import time
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn


def make_optimizer(name: str, params: Iterable[nn.Parameter], lr: float, momentum: float = 0.0,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """``"sgd"`` (with ``momentum``) or ``"adam"``. Build it *after* pruning: pruning replaces parameters."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer {name!r}; allowed: 'sgd', 'adam'")


def train_epoch(model: nn.Module, batches: Iterable, optimizer: torch.optim.Optimizer) -> dict[str, float]:
    """One pass of cross-entropy training. Returns the mean loss and the accuracy on the training batches
    as they were seen during the epoch ("train-batch accuracy"), and the wall time."""
    model.train()
    start, total, correct, loss_sum = time.perf_counter(), 0, 0, 0.0
    for x, y in batches:
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        total += len(y)
        correct += int((logits.argmax(1) == y).sum())
        loss_sum += loss.item() * len(y)
    return {"loss": loss_sum / total, "acc": correct / total, "seconds": time.perf_counter() - start}


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable) -> dict[str, float]:
    """Mean cross-entropy and accuracy in eval mode."""
    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    for x, y in batches:
        logits = model(x)
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        total += len(y)
    return {"loss": loss_sum / total, "acc": correct / total}


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
