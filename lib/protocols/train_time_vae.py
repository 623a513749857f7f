"""Train-time pruning of a convolutional VAE (rank paper, Fig. 2), cached.

Per seed, three runs share one schedule: the VAE pruned by contribution in rounds (latent and output
widths protected), the same VAE unpruned, and a VAE trained from scratch at the pruned network's size.
Each records train and test loss (BCE + β·KLD per image) per epoch and reconstructions of fixed test images.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..core import data, models, train
from ..params import profiles
from ..params.vae import VaeParams
from ..store import runs
from . import stages, train_time

KINDS = ("pruned", "unpruned", "scratch")
#: Fields of section ``vae`` in no run's key: they only choose which runs exist. ``device`` is replaced by the
#: device a run actually used.
GRID = ("seeds", "device")


def loss(model: nn.Module, x: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-image VAE loss: Bernoulli reconstruction (BCE, summed over pixels) + β·KL(q(z|x) ‖ N(0, I))."""
    recon, mu, logvar = model(x)
    bce = F.binary_cross_entropy(recon, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (bce + beta * kld) / len(x)


def objective(beta: float) -> train.Loss:
    """:func:`loss` as a :data:`lib.core.train.Loss` for :func:`lib.core.train.train_epoch` and
    :func:`lib.core.train.evaluate` (no accuracy: a VAE has no classes)."""
    return lambda model, x, y: (loss(model, x, beta), None)


def build(p: VaeParams, hidden: list[int], seed: int) -> models.VAE:
    torch.manual_seed(seed)
    spec = data.SPECS[p.dataset]
    return models.VAE(spec.channels, p.image_size, p.channels, hidden, p.latent)


@dataclass(frozen=True)
class VaeRun(runs.Run):
    """One VAE run of a seed (a stored run): ``variant`` ``pruned``, ``unpruned`` or ``scratch`` (at the same seed's
    pruned run's final widths, which it reads), on ``device``."""

    variant: str
    device: str
    kind: ClassVar[str] = "vae-run"

    def __post_init__(self) -> None:
        if self.variant not in KINDS:
            raise ValueError(f"kind {self.variant!r}; allowed: {list(KINDS)}")

    @classmethod
    def of(cls, p: VaeParams, variant: str, seed: int) -> VaeRun:
        return cls(runs.View(p, GRID), seed, variant, str(train.device(p.device)))

    @property
    def phase(self) -> int:  # type: ignore[override]
        return 1 if self.variant == "scratch" else 0

    def key(self) -> dict:
        return {"kind": self.variant, "seed": self.seed, "device": self.device}

    def inputs(self) -> list[runs.Run]:
        """A scratch run reads the pruned run's final widths."""
        return [dataclasses.replace(self, variant="pruned")] if self.variant == "scratch" else []

    def result(self) -> dict:
        """``{"rows": [...], "images": {...}, "hidden": [...]}``."""
        return runs.cached(self, self._compute)

    def _compute(self) -> dict:
        q, seed, kind, dev = self.view, self.seed, self.variant, torch.device(self.device)
        hidden = self.inputs()[0].result()["hidden"] if kind == "scratch" else list(q.hidden)
        split = data.splits(q.dataset, None, q.train_subset, q.test_subset, False, draw=data.draw(q.subsets, seed))
        x_tr, y_tr, x_te, y_te = (t.to(dev) for t in split)
        model = build(q, hidden, seed).to(dev)
        fixed = x_te[: q.n_images]
        train_batches = data.TensorLoader(x_tr, y_tr, q.batch_size, shuffle=True, seed=seed)
        test_batches = data.TensorLoader(x_te, y_te, 512)
        layers = [a for a, _ in model.hidden_pairs()]
        score_fn = train_time.scorer(q.reading, pairs=model.hidden_pairs())
        images: dict[str, list] = {"original": fixed.tolist()}
        final_hidden: list[int] = []

        def on_event(event: str, m: nn.Module) -> None:
            m.eval()
            with torch.no_grad():
                images[event] = m(fixed)[0].tolist()
            if event == "end":
                final_hidden.extend(dict(m.named_modules())[n].out_features for n in layers[: len(q.hidden)])

        torch.manual_seed(seed)
        rows = train_time.prune_rounds(
            model,
            method="rank" if kind == "pruned" else "none",
            schedule=q.params(),
            layers=layers,
            seed=seed,
            example_input=x_tr[:1],
            make_optimizer=lambda m: train.make_optimizer(q.optimizer, m.parameters(), q.lr),
            fit_epoch=lambda m, opt: train.train_epoch(m, train_batches, opt, loss=objective(q.beta), amp=q.amp),
            evaluate=lambda m: train.evaluate(m, test_batches, loss=objective(q.beta), amp=q.amp),
            score=lambda m: score_fn(m, data.TensorLoader(x_tr, y_tr, q.batch_size)),
            on_event=on_event,
        )
        return {"rows": [{"kind": kind, "seed": seed, **r} for r in rows], "images": images, "hidden": final_hidden}


def run(p: VaeParams, kind: str, seed: int) -> dict:
    """One VAE run's result (:class:`VaeRun`): ``kind`` ``pruned``, ``unpruned`` or ``scratch``."""
    return VaeRun.of(p, kind, seed).result()


def planned(p: VaeParams) -> list[VaeRun]:
    """Every seed's three runs, seed by seed."""
    return [VaeRun.of(p, kind, seed) for seed in p.seeds for kind in KINDS]


def sweep(todo: list[runs.Run]) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Every :class:`VaeRun` among ``todo`` (read back or computed): one tidy frame of their rows (with ``dataset``),
    and the first seed's runs by kind (their reconstructions)."""
    chosen = [r for r in todo if isinstance(r, VaeRun)]
    results = {r: r.result() for r in tqdm(chosen, desc="VAE runs")}
    frame = pd.DataFrame([x for res in results.values() for x in res["rows"]]).assign(dataset=chosen[0].view.dataset)
    return frame, {r.variant: out for r, out in results.items() if r.seed == chosen[0].seed}


@stages.lists("06_rank_vae")
def vae_fig2(profile: str, absent: stages.Absent) -> stages.Runs:
    """Notebook 06: the pruned and unpruned VAE of every seed, and from scratch at the pruned run's widths."""
    p = profiles.load("vae", profile)
    stages.require(absent, p.dataset)
    return {"runs": planned(p)}
