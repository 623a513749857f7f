"""The verdict engine: every claim of both papers, and every finding beyond them, is judged here by one rule.

A claim becomes a **paired difference** with one value per seed (two methods on the same base network and the
same test images, or our measurement against the paper's number). Its evidence is the mean with two 95 %
intervals: Student's t (:func:`lib.core.stats.interval`), which decides, and a distribution-free sign-flip
interval (:func:`lib.core.stats.signflip_interval`), shown beside it; a verdict the sign-flip interval does not
reach says *decided under normality only*.

**One α.** Every verdict is a statement about the 95 % t interval: each of its sides is a one-sided test at
:data:`ONE_SIDED` (2.5 %), and the equivalence test (TOST, statsmodels) runs at the same 2.5 % per side, so
*equivalent* means the same 95 % interval lies inside ``±margin``. A row's p-value (:func:`decision_p`) is that of its
whole decision rule — below :data:`ALPHA` exactly when the rule decides — fixed by the rule, whatever verdict the row
reaches; it is what Holm's correction receives.

A :class:`Rule` states what the claim needs, in the quantity's own units: the side it claims (``above`` or
``below``), the value it must clear (``needed``: 0 for a direction, the paper's threshold where the claim is one,
minus a margin for "no loss"), the size the paper states (``size``; NaN where it states none: *sign only*) with its
**smallest effect of interest** (``sesoi``: the smallest effect that would still be the one the paper reports, from
the paper's words or numbers, floored by measured noise) and an equivalence margin (``margin``). The verdicts, by
kind of claim:

- a claim of an **effect or a threshold** (no stated size): **no meaningful difference** if the interval lies
  inside ``±margin`` (TOST; evidence of absence, whatever the sign of so small a difference); else **reproduced** if
  the interval lies wholly beyond ``needed``; **contradicted** if wholly on the other side of it (the other
  direction, or below the threshold the claim's own statement requires);
- a claim with a **stated size**: **reproduced** if the interval lies wholly beyond its smallest effect of
  interest; **smaller than claimed** if wholly short of it; **contradicted** if wholly on the other side of
  ``needed`` (the other direction);
- a **"no loss"** claim (non-inferiority, ``needed`` = −margin): **reproduced** if the interval lies wholly beyond
  −margin; **contradicted** if wholly short of it;
- otherwise **inconclusive**; the row shows the minimum detectable effect at this ``n``;

and for a number the paper reports (``two_sided``; the quantity is ours − the paper's): **matches** (the interval
inside ``±margin``), **exceeds**, **falls short**, or inconclusive. **not testable in this regime** and **not
run** are stated by the claim families. Gate rows read **passed** / **failed**.

**Gates.** A claim that compares pruning criteria is only evidence if, in the same regime and measurement, the
criteria beat random pruning: one pre-specified statistic per gate (:func:`control`), never a claim of the
papers, decides it. Where a gate fails, every comparative claim it guards reads *inconclusive (regime cannot
discriminate)*.

**Robustness, shown and never deciding.** Every decided row and every gate carries its leave-one-seed-out status
(``loo``): *decided with any one seed removed*, or *fragile* with the seeds whose removal changes it — computed with
the row's own rule, its level rule (:func:`every`) or its Holm family (:func:`holm_family`); a row guarded by a
fragile gate says so. Its per-seed values travel with it (``per_seed``), with the keys of its gate and its Holm
family, so that :func:`lib.verdicts.robustness.rejudge` can judge any claims table again on a subset of the seeds.

>>> judge(0.01, 0.04, False, Rule())[:2]
('reproduced', 'CI above 0')
>>> judge(-0.02, 0.01, True, Rule(margin=0.03))[:2]
('no meaningful difference', 'TOST: within ±0.03')
>>> judge(0.10, 0.18, False, Rule(size=0.25, sesoi=0.2))[:2]
('smaller than claimed', 'CI wholly below 0.2, the smallest effect of interest (right direction)')
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from ..core import stats

#: Verdicts of a claim, and of a gate.
VERDICTS = (
    "reproduced",
    "smaller than claimed",
    "contradicted",
    "no meaningful difference",
    "matches",
    "exceeds",
    "falls short",
    "inconclusive",
    "not testable in this regime",
    "not run",
)
GATE_VERDICTS = ("passed", "failed")
#: Verdicts that decide a claim (everything but inconclusive, not testable and not run).
DECIDED = (
    "reproduced",
    "smaller than claimed",
    "contradicted",
    "no meaningful difference",
    "matches",
    "exceeds",
    "falls short",
)
#: The error rate of every decision rule (two-sided): the 95 % interval.
ALPHA = 1 - stats.LEVEL
#: Each side of the 95 % interval, and each one-sided test of TOST: one α for the interval and the equivalence route.
ONE_SIDED = ALPHA / 2
CANNOT_DISCRIMINATE = "regime cannot discriminate: its gate failed"
NORMAL_ONLY = "decided under normality only"
#: Leave-one-seed-out statuses (``Claim.loo``): shown beside a verdict, never deciding it.
STEADY = "decided with any one seed removed"
FRAGILE = "fragile"
FRAGILE_GATE = "rests on a fragile gate"
#: ``Claim.design`` of a primary endpoint the analysis plan declares unable to reach 80 % power at its planned n.
UNDERPOWERED = "underpowered by design"
Side = Literal["above", "below"]


@dataclass(frozen=True)
class Rule:
    """What a claim needs, in the units of its quantity.

    Attributes
    ----------
    side
        The side of ``needed`` the claim puts the quantity on.
    needed
        The value the quantity must clear: 0 for a direction, a threshold the claim states, ``−margin`` for
        "no loss" (non-inferiority).
    size
        The effect the paper states (NaN: the paper states none — *sign only*).
    sesoi
        The smallest effect of interest of a stated-size claim (NaN with ``size``): its interval must lie wholly
        beyond it to reproduce the claim, wholly short of it reads *smaller than claimed*.
    margin
        Equivalence margin (NaN: no equivalence verdict): the smallest difference that matters, floored by
        measured noise.
    two_sided
        A number the paper reports, judged matches / exceeds / falls short (quantity: ours − paper's).
    basis, sesoi_basis, margin_basis
        Where ``needed`` and ``size``, ``sesoi`` and ``margin`` come from, in words.
    """

    side: Side = "above"
    needed: float = 0.0
    size: float = math.nan
    sesoi: float = math.nan
    margin: float = math.nan
    two_sided: bool = False
    basis: str = ""
    margin_basis: str = ""
    sesoi_basis: str = ""

    def __post_init__(self) -> None:
        if self.side not in ("above", "below"):
            raise ValueError(f"side={self.side!r}; allowed: 'above', 'below'")
        if math.isnan(self.size) != math.isnan(self.sesoi):
            raise ValueError(
                f"size={self.size!r}, sesoi={self.sesoi!r}: a stated size is judged against its smallest effect of "
                "interest (sesoi), and a sesoi needs the size it stands for"
            )
        sign = 1.0 if self.side == "above" else -1.0
        if self.stated and (self.two_sided or not sign * self.sesoi > sign * self.needed):
            raise ValueError(f"sesoi={self.sesoi!r} must lie beyond needed={self.needed!r} on the {self.side} side")

    @property
    def stated(self) -> bool:
        """A claim with a stated size (judged against its smallest effect of interest)."""
        return not math.isnan(self.size)

    @property
    def non_inferiority(self) -> bool:
        """A "no loss" claim: the quantity must stay on the claimed side of minus the margin (``needed`` is the
        margin, on the other side)."""
        return not math.isnan(self.margin) and self.needed == (-self.margin if self.side == "above" else self.margin)

    @property
    def boundary(self) -> float:
        """The value the rule's interval test is against: the smallest effect of interest of a stated size, 0 for a
        number the paper reports (ours − the paper's), else ``needed``."""
        return self.sesoi if self.stated else 0.0 if self.two_sided else self.needed

    @property
    def equivalence_route(self) -> bool:
        """Whether the rule can decide by equivalence (TOST within ``±margin``): an effect, threshold or reported
        number with a margin; never a stated size (judged against its sesoi) or a "no loss" claim (its interval test
        is the equivalence's lower half)."""
        return not math.isnan(self.margin) and not self.stated and not self.non_inferiority

    def scaled(self, factor: float) -> "Rule":
        """The same rule with its margin (and a needed value that is minus the margin) times ``factor``."""
        needed = self.needed * factor if self.non_inferiority else self.needed
        return dataclasses.replace(self, margin=self.margin * factor, needed=needed)


def _num(v: float) -> str:
    return f"{v:.3g}"


class Judgement(NamedTuple):
    """A verdict, why, and which test decided it: ``interval`` (the interval against the rule's value: the reason
    restates the rule), ``TOST`` (equivalence within the margin) or ``none`` (no interval)."""

    verdict: str
    reason: str
    test: str


def judge(low: float, high: float, equivalent: bool, rule: Rule) -> Judgement:
    """The :class:`Judgement` of an interval ``[low, high]`` and whether the equivalence test passed (ignored where
    the rule has no equivalence route).

    >>> judge(-0.08, -0.02, False, Rule())
    Judgement(verdict='contradicted', reason='CI below 0', test='interval')
    >>> judge(0.1, 0.2, False, Rule(needed=0.35)).reason
    'CI wholly below 0.35, the size the claim needs'
    >>> judge(0.21, 0.3, False, Rule(size=0.25, sesoi=0.2))[:2]
    ('reproduced', 'CI above 0.2, the smallest effect of interest')
    >>> judge(-0.01, 0.01, True, Rule(two_sided=True, margin=0.02))
    Judgement(verdict='matches', reason='TOST: within ±0.02 of the paper', test='TOST')
    """
    if math.isnan(low) or math.isnan(high):
        return Judgement("inconclusive", "no interval (at least 2 seeds needed)", "none")
    equivalent = equivalent and rule.equivalence_route
    if rule.two_sided:
        if equivalent:
            return Judgement("matches", f"TOST: within ±{_num(rule.margin)} of the paper", "TOST")
        if low > 0:
            return Judgement("exceeds", "CI above the paper's value", "interval")
        if high < 0:
            return Judgement("falls short", "CI below the paper's value", "interval")
        return Judgement("inconclusive", "CI contains the paper's value", "interval")
    sign = 1.0 if rule.side == "above" else -1.0
    lo, hi = sorted((sign * low, sign * high))
    need = sign * rule.needed
    beyond, short = ("above", "below") if sign > 0 else ("below", "above")
    if rule.non_inferiority:
        if lo > need:
            return Judgement("reproduced", f"CI {beyond} {_num(rule.needed)}", "interval")
        if hi < need:
            return Judgement("contradicted", f"CI {short} {_num(rule.needed)}", "interval")
        return Judgement("inconclusive", f"CI contains {_num(rule.needed)}", "interval")
    if rule.stated:
        floor = sign * rule.sesoi
        of_interest = f"{_num(rule.sesoi)}, the smallest effect of interest"
        if hi < need:
            return Judgement("contradicted", f"CI {short} {_num(rule.needed)}", "interval")
        if hi < floor:
            direction = "right direction" if lo > need else "direction undetermined"
            return Judgement("smaller than claimed", f"CI wholly {short} {of_interest} ({direction})", "interval")
        if lo > floor:
            return Judgement("reproduced", f"CI {beyond} {of_interest}", "interval")
        return Judgement("inconclusive", f"CI contains {of_interest}", "interval")
    if equivalent:
        return Judgement("no meaningful difference", f"TOST: within ±{_num(rule.margin)}", "TOST")
    if lo > need:
        return Judgement("reproduced", f"CI {beyond} {_num(rule.needed)}", "interval")
    if hi < need:
        if need > 0 and lo > 0:
            return Judgement(
                "contradicted", f"CI wholly {short} {_num(rule.needed)}, the size the claim needs", "interval"
            )
        return Judgement("contradicted", f"CI {short} {_num(rule.needed)}", "interval")
    return Judgement("inconclusive", f"CI contains {_num(rule.needed)}", "interval")


def _array(values: Iterable[float]) -> np.ndarray:
    return np.asarray([x for x in values if not pd.isna(x)], dtype=float)


def decide(v: Iterable[float], rule: Rule) -> Judgement:
    """The verdict of per-seed values ``v`` under ``rule`` and why, from the 95 % t interval and, where the rule has
    an equivalence route, TOST at :data:`ONE_SIDED` per side (what :func:`claim` decides by; the sign-flip interval
    only qualifies it there)."""
    v = _array(v)
    e = stats.interval(v)
    equivalent = rule.equivalence_route and stats.equivalence(v, rule.margin) < ONE_SIDED
    return judge(e.low, e.high, equivalent, rule)


def decision_p(values: Iterable[float], rule: Rule) -> float:
    """The p-value of ``rule``'s decision on per-seed ``values``, fixed by the rule whatever verdict it reaches: the
    two-sided one-sample t-test against :attr:`Rule.boundary` (below :data:`ALPHA` exactly when the 95 % interval
    excludes it), and where the rule has an equivalence route the smaller of that and twice the TOST p-value (below
    :data:`ALPHA` exactly when the 95 % interval lies inside ``±margin``). Below :data:`ALPHA` exactly when the rule
    decides; NaN below two values. What Holm's correction receives.

    >>> round(decision_p([0.1, 0.2, 0.15, 0.12], Rule()), 4) == round(stats.pvalue([0.1, 0.2, 0.15, 0.12]), 4)
    True
    """
    v = _array(values)
    p = stats.pvalue(v, rule.boundary)
    if rule.equivalence_route:
        e = stats.equivalence(v, rule.margin)
        if not math.isnan(e):
            p = min(p, 2 * e) if not math.isnan(p) else 2 * e
    return float(min(p, 1.0)) if not math.isnan(p) else math.nan


@dataclass(frozen=True)
class Claim:
    """One judged claim: the numbers behind a row of REPRODUCTION.md.

    Attributes
    ----------
    paper, claim, paper_value
        Which paper (or ``control``, or beyond the papers), the claim in words, what the paper reports.
    quantity
        What ``estimate`` measures (a paired difference, or our value), with its unit.
    estimate, low, high, n, sd
        Mean over seeds, its 95 % t interval, the number of seeds and the values' standard deviation.
    flip_low, flip_high
        The 95 % sign-flip permutation interval (±inf: too few seeds for any distribution-free interval).
    mde
        Minimum detectable effect at this ``n`` (80 % power, two-sided 5 %).
    p
        The p-value of the rule's decision (:func:`decision_p`; for a claim at every level, the same for the level
        rule, :func:`every`), whatever the verdict; Holm-adjusted where the row belongs to a corrected family.
    side, needed, size, sesoi, margin, two_sided, basis, margin_basis, sesoi_basis
        The :class:`Rule`.
    verdict, reason, test
        One of :data:`VERDICTS` (or :data:`GATE_VERDICTS`), why, and what decided it (:class:`Judgement`'s ``test``;
        ``levels``, ``Holm`` or ``gate`` where a family rule changed it).
    note
        What qualifies the verdict without changing it (decided under normality only, the verdict without its gate,
        the margin's sensitivity, a gate's scan), ``; ``-separated.
    primary
        A pre-specified primary endpoint (counted in the headline) rather than a sensitivity row.
    comparative
        Whether the claim compares pruning criteria (and is therefore subject to a gate).
    source, dataset, deviation
        Figure/notebook, data, and how our setting differs from the paper's.
    endpoint
        The analysis plan's endpoint (:data:`lib.verdicts.papers.ENDPOINTS`) this row is, or is shown with: a
        primary row is the endpoint; a row that is not primary but names one is a consequence or a curve point of it
        (shown, never counted).
    design
        :data:`UNDERPOWERED` for a primary the plan declares unable to reach 80 % power at its planned n (counted
        apart in the headline), else empty.
    unit
        How its quantity prints (:data:`UNITS`): percentage points, or percent.
    level
        Where on its curve a row sits, for a row one of several levels or targets of the same claim (``factor 0.3``,
        ``95%``, ``vs δ = 0``, ``time saved``); a claim at every level lists its levels' in its per-seed values
        (:func:`level_labels`).
    loo
        Leave-one-seed-out status of a decided verdict or a gate (:data:`STEADY`, or :data:`FRAGILE` with the seeds
        whose removal changes it); empty for an undecided row. Shown, never deciding.
    per_seed
        The per-seed values as JSON (``{seed: value}``; a claim at every level: ``{"levels": [{seed: value}, …]}``).
    gate, family
        The key of the gate guarding the row (a gate row: its own key), and of the Holm family it was corrected in
        (``…/m`` with the family's size ``m``); empty where none.
    """

    paper: str
    claim: str
    paper_value: str
    quantity: str
    estimate: float
    low: float
    high: float
    n: int
    sd: float
    flip_low: float
    flip_high: float
    mde: float
    p: float
    side: str
    needed: float
    size: float
    margin: float
    two_sided: bool
    basis: str
    margin_basis: str
    verdict: str
    reason: str
    test: str
    note: str
    primary: bool
    comparative: bool
    source: str
    dataset: str
    deviation: str
    sesoi: float = math.nan
    sesoi_basis: str = ""
    endpoint: str = ""
    design: str = ""
    loo: str = ""
    per_seed: str = ""
    gate: str = ""
    family: str = ""
    level: str = ""
    unit: str = "pts"


#: How a claim's quantity prints (:attr:`Claim.unit`): ``pts``, a difference of fractions (accuracies, fractions of
#: parameters removed) in percentage points; ``%``, a share or a relative change in percent.
UNITS = ("pts", "%")


@dataclass(frozen=True)
class Context:
    """Where a family's claims come from: source figure, dataset and the deviation from the paper's setup."""

    source: str
    dataset: str
    deviation: str


def _series(values: Iterable[float]) -> pd.Series:
    """Per-seed values as a float series indexed by seed (positions where ``values`` carries no seeds), NaNs
    dropped."""
    s = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=float)
    return s.astype(float).dropna()


def _encode(values: pd.Series | Sequence[pd.Series], labels: Sequence[str] = ()) -> str:
    def one(s: pd.Series) -> dict[str, float]:
        return {str(k): float(v) for k, v in s.items()}

    if isinstance(values, pd.Series):
        return json.dumps(one(values))
    return json.dumps({"levels": [one(s) for s in values], "labels": list(labels)})


def level_labels(per_seed: Any) -> list[str]:
    """The labels of a claim at every level's levels (:attr:`Claim.level` of each), in the order of its per-seed
    values (:func:`values_of`); empty for any other row."""
    if not isinstance(per_seed, str) or not per_seed:
        return []
    data = json.loads(per_seed)
    return list(data.get("labels", [])) if isinstance(data, dict) else []


def values_of(per_seed: Any) -> pd.Series | list[pd.Series] | None:
    """A row's per-seed values (:attr:`Claim.per_seed`, or a row of :func:`table`): a series indexed by seed (as
    text), a list of them for a claim at every level, or None for a row with no values."""
    if not isinstance(per_seed, str) or not per_seed:
        return None
    data = json.loads(per_seed)
    if "levels" in data and isinstance(data["levels"], list):
        return [pd.Series(level, dtype=float) for level in data["levels"]]
    return pd.Series(data, dtype=float)


def _f(v: Any) -> float:
    return math.nan if v is None or pd.isna(v) else float(v)


def rule_of(row: Any) -> Rule:
    """The :class:`Rule` a claim (a :class:`Claim`, a row of :func:`table` as a series or a named tuple) was judged
    by."""

    def get(name: str) -> Any:  # a series' ``.size`` is its length: read its fields by name
        if isinstance(row, pd.Series):
            return row[name] if name in row.index else math.nan
        return getattr(row, name, math.nan)

    return Rule(
        side=get("side"),
        needed=_f(get("needed")),
        size=_f(get("size")),
        sesoi=_f(get("sesoi")),
        margin=_f(get("margin")),
        two_sided=bool(get("two_sided")),
    )


def loo_status(seeds: Sequence[Any], verdict_without: Callable[[Any], str], verdict: str, steady: str = STEADY) -> str:
    """Leave-one-seed-out: ``steady`` if ``verdict_without(seed)`` is ``verdict`` for every seed, else
    :data:`FRAGILE` with the seeds whose removal changes it (:func:`lib.verdicts.robustness.leave_one_out`)."""
    changed = [f"without seed {s} → {v}" for s in seeds if (v := verdict_without(s)) != verdict]
    return steady if not changed else f"{FRAGILE}: " + "; ".join(changed)


def fragile(c: Claim) -> bool:
    """Whether a claim's or gate's leave-one-seed-out status is fragile."""
    return isinstance(c.loo, str) and c.loo.startswith(FRAGILE)


def claim(
    paper: str,
    text: str,
    paper_value: str,
    quantity: str,
    values: Iterable[float],
    rule: Rule,
    ctx: Context,
    *,
    primary: bool,
    comparative: bool,
    endpoint: str = "",
    level: str = "",
    unit: str = "pts",
) -> Claim:
    """Judge per-seed ``values`` (a series indexed by seed, or plain values) by ``rule`` and build the
    :class:`Claim`: both intervals, the MDE, the rule's p-value, the leave-one-seed-out status of a decided verdict."""
    s = _series(values)
    v = s.to_numpy(dtype=float)
    e, (verdict, reason, test) = stats.interval(v), decide(v, rule)
    flip_low, flip_high = stats.signflip_interval(v)
    note, loo = "", ""
    if verdict in DECIDED:
        flip_equivalent = rule.equivalence_route and -rule.margin < flip_low and flip_high < rule.margin
        if judge(flip_low, flip_high, flip_equivalent, rule)[0] != verdict:
            note = f"{NORMAL_ONLY} (the sign-flip interval does not decide)"
        loo = loo_status(list(s.index), lambda seed: decide(s.drop(seed), rule).verdict, verdict)
    return Claim(
        paper=paper,
        claim=text,
        paper_value=paper_value,
        quantity=quantity,
        estimate=e.mean,
        low=e.low,
        high=e.high,
        n=e.n,
        sd=e.sd,
        flip_low=flip_low,
        flip_high=flip_high,
        mde=stats.detectable(e.sd, e.n),
        p=decision_p(v, rule),
        **_rule_fields(rule),
        verdict=verdict,
        reason=reason,
        test=test,
        note=note,
        primary=primary,
        comparative=comparative,
        source=ctx.source,
        dataset=ctx.dataset,
        deviation=ctx.deviation,
        endpoint=endpoint,
        loo=loo,
        per_seed=_encode(s),
        level=level,
        unit=unit,
    )


def _rule_fields(rule: Rule) -> dict[str, Any]:
    """A :class:`Claim`'s copy of its :class:`Rule`."""
    return {f.name: getattr(rule, f.name) for f in dataclasses.fields(Rule)}


def stated(
    paper: str,
    text: str,
    paper_value: str,
    verdict: str,
    why: str,
    ctx: Context,
    *,
    primary: bool,
    rule: Rule = Rule(),
    endpoint: str = "",
) -> Claim:
    """A claim with no measurement behind it: ``not run`` (e.g. its dataset is missing) or ``not testable in this
    regime`` (:func:`lib.verdicts.papers.fig3_claims`' testability rule), with the reason."""
    if verdict not in ("not run", "not testable in this regime"):
        raise ValueError(f"verdict={verdict!r}; allowed: 'not run', 'not testable in this regime'")
    nan = math.nan
    return Claim(
        paper=paper,
        claim=text,
        paper_value=paper_value,
        quantity="—",
        estimate=nan,
        low=nan,
        high=nan,
        n=0,
        sd=nan,
        flip_low=nan,
        flip_high=nan,
        mde=nan,
        p=nan,
        **_rule_fields(rule),
        verdict=verdict,
        reason=why,
        test="none",
        note="",
        primary=primary,
        comparative=False,
        source=ctx.source,
        dataset=ctx.dataset,
        deviation=ctx.deviation,
        endpoint=endpoint,
    )


def _every_verdict(verdicts: Sequence[str], ps: Sequence[float]) -> tuple[str, str, float]:
    """The level rule of :func:`every` on per-level verdicts and p-values: the verdict, why, and the p of the level
    rule that decides it (what Holm's correction receives) — *contradicted*: the smallest Holm-adjusted p (over the
    levels) of a level contradicted after that correction; every other verdict: the largest level p, that of the
    intersection-union test (below :data:`ALPHA` when every level decides; NaN where a level has none)."""
    k = len(verdicts)
    adjusted = stats.holm(ps)
    contra = [q for v, q in zip(verdicts, adjusted) if v == "contradicted" and q < ALPHA]
    if all(v == "reproduced" for v in verdicts):
        verdict, reason = "reproduced", f"reproduced at each of {k} levels"
    elif contra:
        verdict, reason = "contradicted", f"contradicted at {len(contra)} of {k} levels (Holm over the levels)"
    elif all(v == "no meaningful difference" for v in verdicts):
        verdict, reason = "no meaningful difference", f"equivalent at each of {k} levels"
    else:
        counts = pd.Series(list(verdicts)).value_counts()
        verdict, reason = "inconclusive", "per level: " + ", ".join(f"{c} {n}" for c, n in counts.items())
    iut = np.asarray(ps, dtype=float)
    p = float(min(contra)) if verdict == "contradicted" else float(iut.max()) if iut.size else math.nan
    return verdict, reason, p


def judge_levels(levels: Sequence[pd.Series], rule: Rule) -> tuple[str, str, float]:
    """A claim at every level judged from its levels' per-seed values by the level rule (:func:`every`):
    ``(verdict, reason, p)``."""
    judged = [(decide(level, rule).verdict, decision_p(level, rule)) for level in levels]
    return _every_verdict([v for v, _ in judged], [p for _, p in judged])


def every(rows: Sequence[Claim], text: str, quantity: str) -> Claim:
    """A claim "at every level" from its per-level rows (the same rule at each level): *reproduced* only if every
    level is (an intersection-union test: no correction needed); *contradicted* if some level is after Holm's
    correction over the levels; *no meaningful difference* if every level is; else *inconclusive*. Its p is that
    of the level rule deciding it (:func:`_every_verdict`): the deciding contradicted level's Holm-adjusted p, else
    the largest level p. Its numbers are those of the least favourable level (the lowest mean on the claimed side);
    its per-seed values are every level's, and its leave-one-seed-out status applies the level rule without each
    seed."""
    if not rows:
        raise ValueError("no per-level rows")
    verdict, reason, p = _every_verdict([r.verdict for r in rows], [r.p for r in rows])
    sign = 1.0 if rows[0].side == "above" else -1.0
    worst = min(rows, key=lambda r: -math.inf if math.isnan(r.estimate) else sign * r.estimate)
    levels = [values_of(r.per_seed) for r in rows]
    loo = ""
    if verdict in DECIDED and all(isinstance(level, pd.Series) for level in levels):
        rule = rule_of(rows[0])
        seeds = sorted({s for level in levels for s in level.index}, key=seed_order)
        loo = loo_status(
            seeds, lambda seed: judge_levels([lv.drop(seed, errors="ignore") for lv in levels], rule)[0], verdict
        )
    return dataclasses.replace(
        worst,
        claim=text,
        quantity=quantity,
        verdict=verdict,
        reason=reason,
        test="levels",
        note="",
        p=p,
        loo=loo,
        per_seed=_encode(levels, [r.level for r in rows]) if all(isinstance(lv, pd.Series) for lv in levels) else "",
        level="",
    )


def seed_order(seed: Any) -> tuple[int, Any]:
    """Seeds in numeric order where they are numbers (``"10"`` after ``"9"``)."""
    try:
        return (0, float(seed))
    except (TypeError, ValueError):
        return (1, str(seed))


def holm_verdict(verdict: str, q: float, m: int) -> tuple[str, str] | None:
    """A decided verdict whose Holm-adjusted p ``q`` is not below :data:`ALPHA` becomes inconclusive."""
    if verdict in DECIDED and not q < ALPHA:
        return "inconclusive", f"{verdict} before, not after Holm's correction over {m} rows"
    return None


def _family_key(rows: Sequence[Claim]) -> str:
    digest = hashlib.sha1("\n".join(f"{r.source}|{r.dataset}|{r.claim}" for r in rows).encode()).hexdigest()[:10]
    return f"holm {digest}/{len(rows)}"


def family_size(key: str) -> int | None:
    """How many rows the Holm family of ``key`` (a claims table's ``family``) corrects over, or ``None`` for a key
    that names no size.

    >>> family_size("holm 0123456789/3")
    3
    """
    head, _, size = key.rpartition("/")
    return int(size) if head and size.isdigit() else None


def holm_family(rows: Sequence[Claim]) -> list[Claim]:
    """A family a reader scans for a decided row: each row's own p-value (:func:`decision_p`, fixed by its rule)
    Holm-adjusted over the family (:func:`lib.core.stats.holm`); a decided row whose adjusted p is not below
    :data:`ALPHA` becomes inconclusive. The rows keep the family's key, and a decided row's leave-one-seed-out status
    applies the whole family's correction without each seed."""
    rows = list(rows)
    m = len(rows)
    adjusted = stats.holm([r.p for r in rows])
    key = _family_key(rows)
    out = []
    for r, q in zip(rows, adjusted):
        r = dataclasses.replace(r, p=float(q), family=key)
        undecided = holm_verdict(r.verdict, q, m)
        if undecided:
            r = dataclasses.replace(r, verdict=undecided[0], test="Holm", reason=undecided[1], loo="")
        out.append(r)
    values = [values_of(r.per_seed) for r in rows]
    if not all(isinstance(v, pd.Series) for v in values):
        return out
    rules = [rule_of(r) for r in rows]
    seeds = sorted({s for v in values for s in v.index}, key=seed_order)
    without: dict[Any, list[str]] = {}
    for seed in seeds:
        kept = [v.drop(seed, errors="ignore") for v in values]
        own = [decide(v, rule).verdict for v, rule in zip(kept, rules)]
        qs = stats.holm([decision_p(v, rule) for v, rule in zip(kept, rules)])
        without[seed] = [(holm_verdict(o, q, m) or (o,))[0] for o, q in zip(own, qs)]
    return [
        dataclasses.replace(r, loo=loo_status(seeds, lambda seed, i=i: without[seed][i], r.verdict))
        if r.verdict in DECIDED
        else r
        for i, r in enumerate(out)
    ]


def gate(claims: Iterable[Claim], passed: bool, *, key: str = "", fragile_gate: bool = False) -> list[Claim]:
    """Apply a gate (``key``: the gate row's :attr:`Claim.gate`): if it failed, every comparative claim it guards
    becomes inconclusive (its note keeps the verdict its interval alone would give); if it passed but is fragile
    (``fragile_gate``), a decided claim it guards says so beside its own leave-one-seed-out status."""
    out = []
    for c in claims:
        if not c.comparative or c.verdict in ("not run", "not testable in this regime"):
            out.append(c)
            continue
        c = dataclasses.replace(c, gate=key)
        if not passed:
            c = dataclasses.replace(
                c,
                verdict="inconclusive",
                reason=CANNOT_DISCRIMINATE,
                test="gate",
                note="; ".join(filter(None, [f"ungated: {c.verdict}", c.note])),
                loo="",
            )
        elif fragile_gate and c.verdict in DECIDED:
            c = dataclasses.replace(c, loo="; ".join(filter(None, [c.loo, FRAGILE_GATE])))
        out.append(c)
    return out


def control(
    statistic: pd.Series, text: str, quantity: str, ctx: Context, scan: str = "", key: str = ""
) -> tuple[Claim, bool]:
    """A gate: one pre-specified per-seed ``statistic`` (criteria − random, oriented so that a working regime is
    positive) passes if its 95 % t interval lies above 0. ``scan``: what a corrected scan over criteria and levels
    shows, for the reader (it does not decide). ``key`` (default: source · dataset) names the gate for the rows it
    guards (:func:`gate`). Its leave-one-seed-out status says whether it passes (or fails) with any one seed
    removed."""
    rule = Rule(basis="pre-specified gate")
    row = claim("control", text, "(not in the paper)", quantity, statistic, rule, ctx, primary=False, comparative=False)
    passed = row.verdict == "reproduced"
    verdict = "passed" if passed else "failed"
    s = values_of(row.per_seed)
    loo = loo_status(
        list(s.index),
        lambda seed: "passed" if decide(s.drop(seed), rule).verdict == "reproduced" else "failed",
        verdict,
        steady=f"{verdict} with any one seed removed",
    )
    return dataclasses.replace(
        row,
        verdict=verdict,
        test="gate",
        reason="regime can discriminate" if passed else CANNOT_DISCRIMINATE,
        note="; ".join(filter(None, [scan, row.note])),
        loo=loo,
        gate=key or f"{ctx.source} · {ctx.dataset}",
    ), passed


def scanned(pairs: dict[str, pd.Series]) -> str:
    """A scan over (criterion, level) pairs of per-seed differences, Holm-corrected: how many lie above 0."""
    names = list(pairs)
    adjusted = stats.holm([stats.pvalue(pairs[k]) for k in names])
    above = [k for k, q in zip(names, adjusted) if q < ALPHA and pairs[k].mean() > 0]
    best = max(names, key=lambda k: pairs[k].mean()) if names else "—"
    return (
        f"scan over {len(names)} criterion × level pairs, Holm-corrected: {len(above)} above 0 "
        f"(largest mean: {best}); shown, not deciding"
    )


def table(claims: Iterable[Claim]) -> pd.DataFrame:
    """The claims as a tidy frame of numbers (one row per claim, :class:`Claim`'s fields as columns)."""
    return pd.DataFrame([dataclasses.asdict(c) for c in claims], columns=[f.name for f in dataclasses.fields(Claim)])


# --- the primaries of a paper, together --------------------------------------------------------------------------


def _text(v: Any) -> str:
    return v if isinstance(v, str) else ""


#: The text fields of a claim: read back from a CSV, an empty one is NaN in a float column.
TEXT_FIELDS = tuple(f.name for f in dataclasses.fields(Claim) if f.type == "str")


def texts(frame: pd.DataFrame) -> pd.DataFrame:
    """A claims table (e.g. read back from ``claims.csv``) with every text field as text, empty where it was NaN: what
    the functions that rewrite verdicts, reasons and statuses need (a float column takes no text)."""
    out = frame.copy()
    for name in TEXT_FIELDS:
        if name in out:
            out[name] = out[name].map(_text).astype(object)
    return out


def correct_primaries(frame: pd.DataFrame) -> pd.DataFrame:
    """The analysis plan's multiplicity policy on a claims table: the primary rows of each paper (``primary``; gates
    and sensitivity rows untouched) form one Holm family over their own p-values (:func:`decision_p`, fixed by each
    rule); a decided primary whose adjusted p is not below :data:`ALPHA` becomes *inconclusive*, its reason saying
    so. ``p`` becomes the adjusted p-value; rows with no p (not run, not testable) take no part."""
    out = texts(frame)
    primary = out.primary.fillna(False).astype(bool) & out.p.notna()
    for paper, g in out[primary].groupby("paper"):
        adjusted = stats.holm(g.p.to_numpy(dtype=float))
        for i, q in zip(g.index, adjusted):
            out.loc[i, "p"] = float(q)
            undecided = holm_verdict(out.loc[i, "verdict"], q, len(g))
            if undecided:
                verdict = out.loc[i, "verdict"]
                out.loc[i, ["verdict", "reason", "test"]] = [
                    "inconclusive",
                    f"{verdict} before, not after Holm's correction over {paper}'s {len(g)} primaries",
                    "Holm",
                ]
                if "loo" in out:
                    out.loc[i, "loo"] = ""
    return out


def note_fragile_gates(frame: pd.DataFrame) -> pd.DataFrame:
    """A claims table of several notebooks together: every decided row guarded by a gate (its ``gate`` key) whose
    gate row is fragile says :data:`FRAGILE_GATE` beside its leave-one-seed-out status — also where the gate was
    passed to its family as a bare verdict (notebooks 02 and 03 read notebook 01's)."""
    out = texts(frame)
    if "gate" not in out or "loo" not in out:
        return out
    keys, loo = out["gate"].map(_text), out["loo"].map(_text)
    gates = (out.paper == "control") & (keys != "")
    weak = set(keys[gates & loo.str.startswith(FRAGILE)])
    rows = (out.paper != "control") & keys.isin(weak) & out.verdict.isin(DECIDED) & ~loo.str.contains(FRAGILE_GATE)
    out.loc[rows, "loo"] = ["; ".join(filter(None, [v, FRAGILE_GATE])) for v in loo[rows]]
    return out


def headline(frame: pd.DataFrame) -> dict[str, dict[str, int]]:
    """The headline's counts of the primary rows of a claims table, in three groups: ``decided`` (a decided verdict),
    ``undecided`` (inconclusive, not run, not testable) and ``underpowered by design`` (the plan's
    :data:`UNDERPOWERED` primaries, whatever their verdict: counted apart)."""
    primary = frame[frame.primary.fillna(False).astype(bool)]
    design = primary["design"].map(_text) if "design" in primary else pd.Series("", index=primary.index)
    apart = design == UNDERPOWERED
    decided = primary.verdict.isin(DECIDED)
    return {
        "decided": primary[decided & ~apart].verdict.value_counts().to_dict(),
        "undecided": primary[~decided & ~apart].verdict.value_counts().to_dict(),
        UNDERPOWERED: primary[apart].verdict.value_counts().to_dict(),
    }
