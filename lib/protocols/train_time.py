"""Train-time pruning by neuron contribution (Reddy et al., Algorithm 1), cached per run.

Train ``initial_epochs``; then repeat: score the hidden neurons, remove the bottom ``prune_fraction`` of
every hidden layer's current width (a smaller network keeping the surviving weights, built by
torch-pruning), recover for ``recovery_epochs`` — until ``target_removed`` of the original hidden neurons
are gone; then train ``final_epochs`` more. The loop is shared by the classifiers (Fig. 1, Table 1) and the
VAE (Fig. 2) through small callables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from ..core import data, models, prune, train
from ..criteria import contribution
from ..params import profiles
from ..params.rank import RankParams
from ..store import runs
from . import stages

Rows = list[dict]
#: Fields of section ``rank`` in no run's key: they only choose which runs exist. ``device`` is replaced by
#: the device a run actually used.
GRID = ("datasets", "table_datasets", "readings", "methods", "seeds", "device")


def scorer(reading: str, lam_avg: float = 0.5, lam_max: float = 0.5, pairs: list[tuple[str, str]] | None = None):
    """``(model, batches) → scores`` for a reading: ``paper`` (λ1, λ2 as given) or ``original_code``."""
    if reading not in contribution.CONTRIBUTION_PRESETS:
        raise ValueError(f"reading {reading!r}; allowed: {list(contribution.CONTRIBUTION_PRESETS)}")
    options = dict(contribution.CONTRIBUTION_PRESETS[reading])
    if reading == "paper":  # the text gives λ1, λ2 only as an example: they are parameters
        options.update(lam_avg=lam_avg, lam_max=lam_max)
    return lambda model, batches: contribution.contribution(model, batches, pairs=pairs, **options)


def width(model: nn.Module, layers: list[str]) -> int:
    """Total output units of the named layers."""
    modules = dict(model.named_modules())
    return sum(modules[n].weight.shape[0] for n in layers)


def rounds_needed(widths: list[int], fraction: float, target: float) -> int:
    """How many rounds remove ``target`` of the hidden units when each round keeps ``⌊(1 − fraction)·n⌋``
    of a layer's ``n`` (torch-pruning's rounding); the unpruned baseline trains as many epochs."""
    current, total, rounds = list(widths), sum(widths), 0
    while 1 - sum(current) / total < target - 1e-9:
        nxt = [max(1, int(n * (1 - fraction))) for n in current]
        if nxt == current:
            break
        current, rounds = nxt, rounds + 1
    return rounds


def prune_rounds(
    model: nn.Module,
    *,
    method: str,
    schedule: dict,
    layers: list[str],
    make_optimizer: Callable[[nn.Module], torch.optim.Optimizer],
    fit_epoch: Callable[[nn.Module, torch.optim.Optimizer], dict],
    evaluate: Callable[[nn.Module], dict],
    score: Callable[[nn.Module], prune.Scores],
    example_input: torch.Tensor,
    seed: int,
    on_event: Callable[[str, nn.Module], None] | None = None,
) -> Rows:
    """Run Algorithm 1 on ``model`` and return one row per epoch (``stage="trained"``) plus one right after
    each pruning round (``stage="pruned"``: the trough before recovery).

    ``method``: ``rank`` (lowest score pruned), ``worst`` (highest pruned), ``random`` or ``none``.
    ``schedule``: ``initial_epochs``, ``recovery_epochs``, ``final_epochs``, ``prune_fraction``,
    ``target_removed``. ``on_event("before_pruning" | "end", model)`` lets a caller look at the network.
    """
    original = width(model, layers)
    n_rounds = rounds_needed(
        [width(model, [n]) for n in layers], schedule["prune_fraction"], schedule["target_removed"]
    )
    rows: Rows = []
    state = {"epoch": 0, "round": 0, "model": model, "opt": make_optimizer(model)}

    def record(stage: str, fit: dict | None = None) -> None:
        m = state["model"]
        rows.append(
            {
                "stage": stage,
                "epoch": state["epoch"],
                "round": state["round"],
                "removed": 1 - width(m, layers) / original,
                "hidden": width(m, layers),
                "params": sum(p.numel() for p in m.parameters()),
                **{f"train_{k}": v for k, v in (fit or {}).items() if k != "seconds"},
                **{f"test_{k}": v for k, v in evaluate(m).items()},
            }
        )

    def epochs(n: int) -> None:
        for _ in range(n):
            state["epoch"] += 1
            record("trained", fit_epoch(state["model"], state["opt"]))

    epochs(schedule["initial_epochs"])
    if on_event:
        on_event("before_pruning", state["model"])
    for r in range(n_rounds):
        if method == "none":
            epochs(schedule["recovery_epochs"])
            continue
        m = state["model"]
        s = prune.random_scores(m, seed * 1000 + r) if method == "random" else score(m)
        s = {n: s[n] for n in layers}
        state["model"] = prune.prune(m, s, schedule["prune_fraction"], "layer", example_input, worst=method == "worst")
        state["opt"] = make_optimizer(state["model"])
        state["round"] += 1
        record("pruned")
        epochs(schedule["recovery_epochs"])
    epochs(schedule["final_epochs"])
    if on_event:
        on_event("end", state["model"])
    return rows


def build(p: RankParams, dataset: str, seed: int) -> nn.Module:
    """The 784-50-30-10 MLP for MNIST-like data, the appendix CNN for CIFAR."""
    torch.manual_seed(seed)
    spec = data.SPECS[dataset]
    if dataset.startswith("CIFAR"):
        return models.cnn(spec.channels, spec.classes, spec.size, bias=p.bias)
    return models.mlp([spec.channels * spec.size**2, 50, 30, spec.classes], bias=p.bias)


def train_time(
    q: runs.View,
    dev: torch.device,
    dataset: str,
    method: str,
    reading: str,
    seed: int,
    score: Callable[[nn.Module, object], prune.Scores],
) -> Rows:
    """Algorithm 1 on ``dev`` on a fresh classifier for ``dataset`` (section view ``q``), scoring neurons with
    ``score(model, training batches)``; rows carry dataset, method, reading and seed (uncached: :func:`run`)."""
    split = data.splits(dataset, train_subset=q.train_subset, draw=data.draw(q.subsets, seed))
    x_tr, y_tr, x_te, y_te = (t.to(dev) for t in split)
    model = build(q, dataset, seed).to(dev)
    train_batches = data.TensorLoader(x_tr, y_tr, q.batch_size, shuffle=True, seed=seed)
    test_batches = data.TensorLoader(x_te, y_te, 2048)
    layers = [name for name, _ in contribution.linear_pairs(model, x_tr[:1])]
    rows = prune_rounds(
        model,
        method=method,
        schedule=q.params(),
        layers=layers,
        seed=seed,
        example_input=x_tr[:1],
        make_optimizer=lambda m: train.make_optimizer(q.optimizer, m.parameters(), q.lr, q.momentum),
        fit_epoch=lambda m, opt: train.train_epoch(m, train_batches, opt, amp=q.amp),
        evaluate=lambda m: train.evaluate(m, test_batches, amp=q.amp),
        score=lambda m: score(m, data.TensorLoader(x_tr, y_tr, q.batch_size, shuffle=True, seed=seed)),
    )
    return [{"dataset": dataset, "method": method, "reading": reading, "seed": seed, **r} for r in rows]


@dataclass(frozen=True)
class RankRun(runs.Run):
    """One train-time pruning run of a classifier (a stored run): Algorithm 1 on ``dataset`` with ``method`` (its
    scores read by ``reading``, ``-`` for the methods that read none) from ``seed``, on ``device``."""

    dataset: str
    method: str
    reading: str
    device: str
    kind: ClassVar[str] = "rank-run"

    @classmethod
    def of(cls, p: RankParams, dataset: str, method: str, reading: str, seed: int) -> RankRun:
        """Section ``p``'s run (``reading`` counts for ``rank`` and ``worst`` only; it is ``-`` for the others)."""
        reading = reading if method in ("rank", "worst") else "-"
        return cls(runs.View(p, GRID), seed, dataset, method, reading, str(train.device(p.device)))

    def key(self) -> dict:
        return {
            "dataset": self.dataset,
            "method": self.method,
            "reading": self.reading,
            "seed": self.seed,
            "device": self.device,
        }

    def result(self) -> Rows:
        """One row per epoch and per pruning round; rows carry dataset, method, reading and seed."""
        return runs.cached(self, self._compute)

    def _compute(self) -> Rows:
        score = scorer(self.reading if self.reading != "-" else "paper", self.view.lam_avg, self.view.lam_max)
        return train_time(
            self.view, torch.device(self.device), self.dataset, self.method, self.reading, self.seed, score
        )


def run(p: RankParams, dataset: str, method: str, reading: str, seed: int) -> Rows:
    """One train-time pruning run of a classifier (:class:`RankRun`'s result)."""
    return RankRun.of(p, dataset, method, reading, seed).result()


def jobs(p: RankParams, datasets: list[str]) -> list[RankRun]:
    """Every run of the profile on ``datasets``, dataset by dataset and seed by seed."""
    return [
        RankRun.of(p, dataset, method, reading, seed)
        for dataset in datasets
        for seed in p.seeds
        for method in p.methods
        for reading in (p.readings if method in ("rank", "worst") else ["-"])
    ]


def sweep(todo: list[runs.Run]) -> pd.DataFrame:
    """The rows of every :class:`RankRun` among ``todo`` (read back or computed) as one tidy frame."""
    return pd.DataFrame(
        [r for run in tqdm([t for t in todo if isinstance(t, RankRun)], desc="runs") for r in run.result()]
    )


def label(method: str, reading: str) -> str:
    """Legend label of a (method, reading) pair."""
    names = {
        "rank": "rank (lowest contribution pruned)",
        "worst": "anti-ranked (highest pruned; the code's 'random')",
        "random": "random",
        "none": "no pruning",
    }
    return names[method] + ("" if reading == "-" else f" · {reading}")


@stages.lists("04_rank_random_vs_rank")
def rank_fig1(profile: str, absent: stages.Absent) -> stages.Runs:
    """Notebook 04: every train-time pruning run on ``rank.datasets``."""
    p = profiles.load("rank", profile)
    stages.require(absent, *p.datasets)
    return {"runs": jobs(p, p.datasets)}


@stages.lists("05_rank_table1")
def rank_table1(profile: str, absent: stages.Absent) -> stages.Runs:
    """Notebook 05: the runs of ``rank.table_datasets`` notebook 04 does not make, where the data is here (the
    notebook reports the others as not run)."""
    p = profiles.load("rank", profile)
    return {"runs": jobs(p, [d for d in p.table_datasets if d not in p.datasets and absent(d) is None])}
