"""What a verdict measures: per-seed numbers drawn from the stages' tidy frames (reach of an accuracy target,
levels that carry information, the rank paper's troughs and round ends) and the noise that sets the margins.

Pure pandas: every function takes a frame and returns a frame or a per-seed series; :mod:`lib.verdicts.papers`
and :mod:`lib.verdicts.study_claims` judge them with :mod:`lib.verdicts.rules`.
"""

from __future__ import annotations

import math

import pandas as pd

from ..core import stats

#: A pruning level is at the floor when no method keeps this share of the unpruned network's accuracy above chance.
FLOOR_SHARE = 0.25


def reach(curves: pd.DataFrame, target_rel: float, value: str = "test_acc") -> pd.DataFrame:
    """Per seed and method, the fraction of parameters removed at which accuracy first falls below
    ``target_rel`` × the seed's unpruned accuracy (:func:`lib.core.stats.crossing`). ``curves``: columns ``seed``,
    ``method``, ``factor``, ``params_removed`` and ``value``, with the unpruned network as ``factor`` 0 of every
    method; random draws of a seed are averaged first."""
    mean = curves.groupby(["seed", "method", "factor"], as_index=False)[[value, "params_removed"]].mean()
    rows = []
    for (seed, method), c in mean.groupby(["seed", "method"]):
        reference = float(c[c.factor == 0][value].iloc[0])
        rows.append(
            {
                "seed": seed,
                "method": method,
                "target_rel": target_rel,
                "target_acc": target_rel * reference,
                "params_removed": stats.crossing(c, target_rel * reference, value=value),
            }
        )
    return pd.DataFrame(rows)


def time_to_targets(trajectory: pd.DataFrame, targets_rel: list[float], delta: float) -> pd.DataFrame:
    """Per seed, method and factor (FlexRel at ``delta``; random's draws averaged), the time (``seconds``: the run's
    ``elapsed``) at the first post-pruning epoch whose held-out accuracy reaches each of ``targets_rel`` × the seed's
    unpruned accuracy at the end of the budget; NaN where the run never reaches it (Fig. 3, measured)."""
    t = trajectory[trajectory.delta.isna() | (trajectory.delta == delta)]
    t = t.groupby(["seed", "method", "factor", "post_epoch"], as_index=False)[["test_acc", "elapsed"]].mean()
    last = t.post_epoch.max()
    reference = t[(t.factor == 0) & (t.post_epoch == last)].groupby("seed").test_acc.first()
    rows = []
    for (seed, method, factor), c in t.groupby(["seed", "method", "factor"]):
        c = c.sort_values("post_epoch")
        for target in targets_rel:
            hit = c[c.test_acc >= target * reference[seed]]
            seconds = float(hit.elapsed.iloc[0]) if len(hit) else math.nan
            rows.append({"seed": seed, "method": method, "factor": factor, "target_rel": target, "seconds": seconds})
    return pd.DataFrame(rows)


def informative(curves: pd.DataFrame, chance: float, value: str = "test_acc", by: str = "method") -> list[float]:
    """The pruned levels (``factor`` > 0) where some arm keeps at least :data:`FLOOR_SHARE` of the unpruned
    network's accuracy above ``chance`` (mean over seeds): a level where every method is near chance carries no
    information about which criterion is better, and is left out of averages. Decided on every arm alike, never on
    a difference."""
    unpruned = float(curves[curves.factor == 0][value].mean()) if (curves.factor == 0).any() else math.nan
    floor = chance + FLOOR_SHARE * (unpruned - chance) if not math.isnan(unpruned) else chance
    pruned = curves[curves.factor > 0].groupby(["factor", by])[value].mean()
    return sorted(float(f) for f, best in pruned.groupby(level="factor").max().items() if best >= floor)


def mean_over_levels(curves: pd.DataFrame, levels: list[float] | None = None, value: str = "test_acc") -> pd.DataFrame:
    """Per seed and method, ``value`` averaged over the pruned ``levels`` (default: every factor > 0; random draws
    averaged per level first): one number per curve for an overall paired comparison."""
    pruned = curves[curves.factor > 0] if levels is None else curves[curves.factor.isin(levels)]
    pruned = pruned.groupby(["seed", "method", "factor"], as_index=False)[value].mean()
    return pruned.groupby(["seed", "method"], as_index=False)[value].mean()


def compare(frame: pd.DataFrame, a: str, b: str, value: str) -> pd.Series:
    """Per-seed ``a − b`` of ``value`` in a frame with one row per (seed, method) (:func:`lib.core.stats.paired`)."""
    return stats.paired(frame, value, "method", a, b)


def against_random(
    curves: pd.DataFrame, criteria: list[str], levels: list[float], value: str = "test_acc", random: str = "random"
) -> pd.Series:
    """The gate's statistic: per seed, the mean over ``levels`` of (the mean of ``criteria``'s ``value`` − random's),
    random's draws averaged first."""
    at = curves[curves.factor.isin(levels)]
    arms = at.groupby(["seed", "factor", "method"])[value].mean().unstack("method")
    if random not in arms or not set(criteria) & set(arms):
        return pd.Series(dtype=float)
    diff = arms[[c for c in criteria if c in arms]].mean(axis=1) - arms[random]
    return diff.groupby("seed").mean().dropna()


def pairs_against_random(
    curves: pd.DataFrame, criteria: list[str], levels: list[float], value: str = "test_acc", random: str = "random"
) -> dict[str, pd.Series]:
    """Per (criterion, level), the per-seed difference against random: the scan a gate's reader might make."""
    out = {}
    for c in criteria:
        for f in levels:
            d = stats.paired(curves[curves.factor == f], value, "method", c, random)
            if len(d):
                out[f"{c} at factor {f:g}"] = d
    return out


def noise(unpruned: pd.Series, test_images: int) -> float:
    """The margin of an accuracy comparison, from measured noise: the larger of the unpruned networks' seed-to-seed
    standard deviation and the binomial standard error of their mean accuracy on ``test_images`` images — two
    trainings of the same network differ by this much, so a smaller difference between criteria means nothing.
    NaN without values.

    >>> round(noise(pd.Series([0.90, 0.91, 0.89]), 10000), 4)
    0.01
    """
    v = unpruned.dropna().astype(float)
    if v.empty:
        return math.nan
    acc = float(v.mean())
    binomial = math.sqrt(acc * (1 - acc) / test_images) if test_images > 0 else 0.0
    return float(max(v.std(ddof=1) if len(v) > 1 else 0.0, binomial))


# --- the rank paper's runs ------------------------------------------------------------------------------------------


def troughs(frame: pd.DataFrame) -> pd.DataFrame:
    """Per pruning round of every run: the accuracy right after pruning, before any recovery — on the held-out
    test split (``test_acc`` of the ``pruned`` row) and on the training batches of the first recovery epoch
    (``train_acc``, the paper's train-time trough). Columns: run keys, ``round``, ``removed``, ``test_acc``,
    ``train_acc``."""
    keys = ["dataset", "method", "reading", "seed"]
    pruned = frame[frame.stage == "pruned"][keys + ["round", "epoch", "removed", "test_acc"]]
    trained = frame[frame.stage == "trained"][keys + ["epoch", "train_acc"]]
    first = trained.assign(epoch=trained.epoch - 1)  # the epoch right after the pruning at `epoch`
    return pruned.merge(first, on=keys + ["epoch"], how="left").drop(columns="epoch")


def at_round_end(frame: pd.DataFrame, removed: float) -> pd.DataFrame:
    """Per run, the last trained epoch of the round whose fraction of hidden neurons removed is closest to
    ``removed`` (the end of that round's recovery), with ``epoch`` so an unpruned run can be matched."""
    trained = frame[frame.stage == "trained"]
    picked = []
    for _, g in trained.groupby(["dataset", "method", "reading", "seed"]):
        closest = g.removed.iloc[(g.removed - removed).abs().to_numpy().argmin()]
        picked.append(g[g.removed == closest].iloc[-1])
    return pd.DataFrame(picked).reset_index(drop=True)


def versus_unpruned(
    frame: pd.DataFrame, dataset: str, reading: str, removed: float, value: str
) -> tuple[pd.Series, float]:
    """Per seed, ``value`` of the rank-pruned run at the end of the round closest to ``removed`` minus the
    unpruned run's at the same epoch; and the fraction actually removed there."""
    d = frame[frame.dataset == dataset]
    end = at_round_end(d[(d.method == "rank") & (d.reading == reading)], removed)
    base = d[(d.method == "none") & (d.stage == "trained")].set_index(["seed", "epoch"])[value]
    diff = end.set_index(["seed", "epoch"])[value] - base.reindex(end.set_index(["seed", "epoch"]).index)
    return diff.droplevel("epoch").dropna(), float(end.removed.mean())


def final_epoch(frame: pd.DataFrame) -> pd.DataFrame:
    """The last recovery epoch of every run (and the unpruned rows)."""
    return frame[frame.epoch == frame.epoch.max()]


def arm_means(frame: pd.DataFrame, method: str, reading: str, value: str) -> pd.Series:
    """Per seed, ``value`` of one arm averaged over its rows (rank and anti-ranked carry a reading; random and
    unpruned read ``-``)."""
    arm = frame[(frame.method == method) & (frame.reading == (reading if method in ("rank", "worst") else "-"))]
    return arm.groupby("seed")[value].mean()


def rank_gap(frame: pd.DataFrame, a: str, b: str, reading: str, value: str) -> pd.Series:
    """Per seed, arm ``a`` − arm ``b`` of ``value`` (:func:`arm_means`), seeds in both only."""
    return (arm_means(frame, a, reading, value) - arm_means(frame, b, reading, value)).dropna()


def final_unpruned(frame: pd.DataFrame, dataset: str, value: str = "test_acc") -> pd.Series:
    """Per seed, the unpruned run's ``value`` at its last epoch: the noise of the rank paper's network."""
    d = frame[(frame.dataset == dataset) & (frame.method == "none") & (frame.stage == "trained")]
    return d[d.epoch == d.epoch.max()].groupby("seed")[value].mean() if len(d) else pd.Series(dtype=float)
