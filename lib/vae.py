"""Train-time pruning of a convolutional VAE (rank paper, Fig. 2), cached.

Three runs share one schedule and seed: the VAE pruned by contribution in rounds (latent and output
widths protected), the same VAE unpruned, and a VAE trained from scratch at the pruned network's size.
Each records train and test loss (BCE + β·KLD per image) per epoch and reconstructions of fixed test images.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from lib import data, models, rank, runs, train
from lib.config import VaeParams

VERSION = 2


def loss(model: nn.Module, x: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-image VAE loss: Bernoulli reconstruction (BCE, summed over pixels) + β·KL(q(z|x) ‖ N(0, I))."""
    recon, mu, logvar = model(x)
    bce = F.binary_cross_entropy(recon, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (bce + beta * kld) / len(x)


def fit_epoch(model: nn.Module, batches, opt: torch.optim.Optimizer, beta: float) -> dict:
    model.train()
    total, n = 0.0, 0
    for x, _ in batches:
        opt.zero_grad(set_to_none=True)
        value = loss(model, x, beta)
        value.backward()
        opt.step()
        total, n = total + value.item() * len(x), n + len(x)
    return {"loss": total / n}


@torch.no_grad()
def evaluate(model: nn.Module, batches, beta: float) -> dict:
    model.eval()
    total, n = 0.0, 0
    for x, _ in batches:
        total, n = total + loss(model, x, beta).item() * len(x), n + len(x)
    return {"loss": total / n}


def build(p: VaeParams, hidden: list[int], seed: int) -> models.VAE:
    torch.manual_seed(seed)
    spec = data.SPECS[p.dataset]
    return models.VAE(spec.channels, p.image_size, p.channels, hidden, p.latent)


def _data(p: VaeParams):
    x_tr, y_tr = data.tensors(p.dataset, True, limit=p.train_subset)
    x_te, y_te = data.tensors(p.dataset, False, limit=p.test_subset)
    return data.prepare(x_tr, p.dataset, standardize=False), y_tr, data.prepare(x_te, p.dataset, standardize=False), y_te


def run(p: VaeParams, kind: str) -> dict:
    """``kind``: ``pruned``, ``unpruned`` or ``scratch`` (needs the pruned run's final widths). Returns
    ``{"rows": [...], "images": {...}, "hidden": [...]}`` (cached)."""
    config = {"version": VERSION, **dataclasses.asdict(p), "kind": kind}
    hidden = list(p.hidden)
    if kind == "scratch":
        hidden = run(p, "pruned")["hidden"]

    def compute() -> dict:
        x_tr, y_tr, x_te, y_te = _data(p)
        model = build(p, hidden, p.seed)
        fixed = x_te[: p.n_images]
        train_batches = data.TensorLoader(x_tr, y_tr, p.batch_size, shuffle=True, seed=p.seed)
        test_batches = data.TensorLoader(x_te, y_te, 512)
        layers = [a for a, _ in model.hidden_pairs()]
        score_fn = rank.scorer(p.reading, pairs=model.hidden_pairs())
        images: dict[str, list] = {"original": fixed.tolist()}
        final_hidden: list[int] = []

        def on_event(event: str, m: nn.Module) -> None:
            m.eval()
            with torch.no_grad():
                images[event] = m(fixed)[0].tolist()
            if event == "end":
                final_hidden.extend(dict(m.named_modules())[n].out_features for n in layers[: len(p.hidden)])

        torch.manual_seed(p.seed)
        rows = rank.prune_rounds(
            model, method="rank" if kind == "pruned" else "none", schedule=dataclasses.asdict(p), layers=layers,
            seed=p.seed, example_input=x_tr[:1],
            make_optimizer=lambda m: train.make_optimizer(p.optimizer, m.parameters(), p.lr),
            fit_epoch=lambda m, opt: fit_epoch(m, train_batches, opt, p.beta),
            evaluate=lambda m: evaluate(m, test_batches, p.beta),
            score=lambda m: score_fn(m, data.TensorLoader(x_tr, y_tr, p.batch_size)),
            on_event=on_event,
        )
        return {"rows": [{"kind": kind, **r} for r in rows], "images": images, "hidden": final_hidden}

    return runs.cached("vae-run", config, compute)
