"""Statistics for paired comparisons: a mean with its Student-t confidence interval and a distribution-free
sign-flip interval beside it (scipy); the minimum detectable effect, equivalence (TOST) and Holm's correction
(statsmodels); where a curve crosses a level.

Every comparison in the project is *paired*: two methods applied to the same base network (same seed,
same test images), so their difference removes the between-seed variation that a comparison of two
unpaired means would carry. The seed is the unit of replication; a difference has one value per seed.

>>> e = interval([0.02, 0.03, 0.01, 0.04, 0.02])
>>> round(e.mean, 3), e.n, e.low > 0
(0.024, 5, True)
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

#: Confidence level of every interval in the project.
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A sample mean with a two-sided Student-t confidence interval.

    Attributes
    ----------
    mean
        Mean of the values.
    low, high
        Bounds of the ``level`` confidence interval (``mean ± t·sd/√n``); both NaN when ``n < 2``, where no
        interval exists; equal to ``mean`` when every value is the same.
    n
        Number of values (seeds).
    sd
        Sample standard deviation (``ddof = 1``); NaN when ``n < 2``.
    level
        Confidence level.
    """

    mean: float
    low: float
    high: float
    n: int
    sd: float
    level: float = LEVEL


def interval(values: Iterable[float], level: float = LEVEL) -> Interval:
    """Mean of ``values`` (NaNs dropped) with its Student-t ``level`` confidence interval.

    Raises
    ------
    ValueError
        If ``level`` is not in (0, 1).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    v = np.asarray([x for x in values if not pd.isna(x)], dtype=float)
    n = len(v)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, math.nan, level)
    mean = float(v.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, 1, math.nan, level)
    sd = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, sd, level)


def paired(frame: pd.DataFrame, value: str, by: str, a: str, b: str, pair: str | list[str] = "seed") -> pd.Series:
    """Per pair (e.g. seed), ``value`` of ``a`` minus ``value`` of ``b``, where ``frame[by]`` names the arm.

    Rows of one arm that share a pair key are averaged first (e.g. several random draws of one seed).
    Pairs present in only one arm are dropped.

    >>> f = pd.DataFrame({"seed": [0, 0, 1, 1], "method": ["m", "r", "m", "r"], "acc": [0.9, 0.8, 0.7, 0.75]})
    >>> paired(f, "acc", "method", "m", "r").round(3).tolist()
    [0.1, -0.05]
    """
    keys = [pair] if isinstance(pair, str) else list(pair)
    arms = frame[frame[by].isin([a, b])].groupby([by, *keys])[value].mean().unstack(by)
    if a not in arms or b not in arms:
        return pd.Series(dtype=float)
    return (arms[a] - arms[b]).dropna()


def band(frame: pd.DataFrame, value: str, by: list[str], level: float = LEVEL) -> pd.DataFrame:
    """Per group of ``by``, the mean of ``value`` and its t interval (columns ``mean``, ``low``, ``high``, ``n``,
    ``sd``): the error bands of the figures."""
    rows = []
    for key, g in frame.groupby(by):
        e = interval(g[value], level)
        rows.append(
            {
                **dict(zip(by, key if isinstance(key, tuple) else (key,))),
                "mean": e.mean,
                "low": e.low,
                "high": e.high,
                "n": e.n,
                "sd": e.sd,
            }
        )
    return pd.DataFrame(rows)


def crossing(curve: pd.DataFrame, target: float, x: str = "params_removed", value: str = "test_acc") -> float:
    """The ``x`` at which a curve (rows sorted by ``x``, starting at the unpruned point) first falls below
    ``target``, linearly interpolated between the last point at or above it and the first below; the largest
    ``x`` if it never falls below. Points after the first fall do not count (no maximum over a non-monotone
    curve).

    >>> round(crossing(pd.DataFrame({"params_removed": [0.0, 0.2, 0.4], "test_acc": [0.9, 0.8, 0.6]}), 0.7), 6)
    0.3
    """
    c = curve.sort_values(x)
    xs, ys = c[x].to_numpy(float), c[value].to_numpy(float)
    below = np.flatnonzero(ys < target)
    if len(below) == 0:
        return float(xs[-1])
    i = below[0]
    if i == 0:
        return float(xs[0])
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return float(x0 + (y0 - target) / (y0 - y1) * (x1 - x0))


def signflip_interval(values: Iterable[float], level: float = LEVEL, resamples: int = 2**13) -> tuple[float, float]:
    """A distribution-free ``level`` interval for the mean of paired differences: every shift θ that a two-sided
    sign-flip permutation test of ``values − θ`` (:func:`scipy.stats.permutation_test`, one sample) does not
    reject at ``1 − level``. It assumes only that the differences are symmetric about their centre, not normal.

    Exact (every sign pattern) up to 13 values, else ``resamples`` random patterns drawn with a fixed seed. With
    ``n`` values no sign-flip p-value can be smaller than ``2 / 2**n``: below 6 values at the 95 % level the
    interval is the whole line, returned as ``(-inf, inf)`` — no distribution-free paired test can decide.

    >>> signflip_interval([0.02, 0.03, 0.01, 0.04, 0.02])
    (-inf, inf)
    >>> low, high = signflip_interval([0.2, 0.3, 0.1, 0.4, 0.2, 0.3, 0.25, 0.35])
    >>> 0.1 < low < 0.25 < high < 0.35
    True
    """
    v = np.asarray([x for x in values if not pd.isna(x)], dtype=float)
    alpha = 1 - level
    if len(v) < 2 or 2 / 2 ** len(v) > alpha:
        return -math.inf, math.inf
    if np.ptp(v) == 0:
        return float(v[0]), float(v[0])

    def p(theta: float) -> float:
        result = stats.permutation_test(
            (v - theta,),
            lambda x, axis: np.mean(x, axis=axis),
            vectorized=True,
            permutation_type="samples",
            n_resamples=resamples,
            rng=0,
        )
        return float(result.pvalue)

    def edge(inside: float, outside: float) -> float:  # bisection between an accepted and a rejected shift
        for _ in range(30):  # to a thousandth of the values' range
            if abs(outside - inside) <= 1e-3 * float(np.ptp(v)):
                break
            mid = (inside + outside) / 2
            inside, outside = (mid, outside) if p(mid) > alpha else (inside, mid)
        return inside

    mean, span = float(v.mean()), float(np.ptp(v))
    return edge(mean, float(v.min()) - span), edge(mean, float(v.max()) + span)


def detectable(sd: float, n: int, level: float = LEVEL, power: float = 0.8) -> float:
    """The minimum detectable effect: the mean difference a two-sided one-sample t-test at ``1 − level`` finds
    with probability ``power`` from ``n`` paired values of standard deviation ``sd``
    (:class:`statsmodels.stats.power.TTestPower`). NaN when ``n < 2`` or ``sd`` is NaN.

    >>> round(detectable(1.0, 20), 2)
    0.66
    """
    from statsmodels.stats.power import TTestPower

    if n < 2 or pd.isna(sd):
        return math.nan
    return float(TTestPower().solve_power(nobs=n, alpha=1 - level, power=power, alternative="two-sided")) * sd


def equivalence(values: Iterable[float], margin: float) -> float:
    """The p-value of two one-sided t-tests (TOST, :meth:`statsmodels.stats.weightstats.DescrStatsW.ttost_mean`)
    that the mean of ``values`` lies within ``±margin``; below 0.05 the mean is *equivalent* to zero at that
    margin (the 90 % t interval lies inside ``±margin``). NaN when fewer than two values or no margin.

    >>> equivalence([0.1, -0.1, 0.05, 0.0, -0.05], 0.5) < 0.05
    True
    """
    from statsmodels.stats.weightstats import DescrStatsW

    v = np.asarray([x for x in values if not pd.isna(x)], dtype=float)
    if len(v) < 2 or not margin > 0:
        return math.nan
    if np.ptp(v) == 0:
        return 0.0 if abs(v[0]) < margin else 1.0
    return float(DescrStatsW(v).ttost_mean(-margin, margin)[0])


def pvalue(values: Iterable[float], null: float = 0.0) -> float:
    """Two-sided one-sample t-test p-value that the mean of ``values`` equals ``null`` (NaN below two values)."""
    v = np.asarray([x for x in values if not pd.isna(x)], dtype=float)
    if len(v) < 2:
        return math.nan
    if np.ptp(v) == 0:
        return 1.0 if v[0] == null else 0.0
    return float(stats.ttest_1samp(v, null).pvalue)


def holm(pvalues: Iterable[float]) -> np.ndarray:
    """Holm-adjusted p-values (:func:`statsmodels.stats.multitest.multipletests`); NaNs stay NaN.

    statsmodels 0.15's Holm branch ends with a full ``gc.collect()`` (about 0.1 s in a process that has loaded
    torch); the leave-one-seed-out checks correct hundreds of families, so that collection is skipped for the call.
    """
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(list(pvalues), dtype=float)
    out = np.full_like(p, math.nan)
    ok = ~np.isnan(p)
    if ok.any():
        collect, gc.collect = gc.collect, lambda *args, **kwargs: 0
        try:
            out[ok] = multipletests(p[ok], method="holm")[1]
        finally:
            gc.collect = collect
    return out
