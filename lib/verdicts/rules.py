"""The verdict engine: every claim of both papers, and every finding beyond them, is judged here by one rule.

A claim becomes a **paired difference** with one value per seed (two methods on the same base network and the
same test images, or our measurement against the paper's number). Its evidence is the mean with two 95 %
intervals: Student's t (:func:`lib.core.stats.interval`), which decides, and a distribution-free sign-flip
interval (:func:`lib.core.stats.signflip_interval`), shown beside it; a verdict the sign-flip interval does not
reach says *decided under normality only*.

A :class:`Rule` states what the claim needs, in the quantity's own units: the side it claims (``above`` or
``below``), the value it must clear (``needed``: 0 for a direction, the paper's threshold where the claim is one,
minus a margin for "no loss"), the size the paper reports (``size``; NaN where it states none: *sign only*) and an
equivalence margin derived from measured noise (``margin``). The verdicts, by kind of claim:

- a claim of an **effect or a threshold** (no stated size): **no meaningful difference** if the two one-sided tests
  (TOST) put the mean within ``±margin`` (evidence of absence, whatever the sign of so small a difference); else
  **reproduced** if the interval lies wholly beyond ``needed``; **contradicted** if wholly on the other side of it
  (the other direction, or below the threshold the claim's own statement requires);
- a claim with a **stated size**: **contradicted** if the interval lies wholly on the other side of ``needed``;
  **smaller than claimed** if wholly below a third of the stated size (Simonsohn's "small telescopes", a third of
  the stated size standing in for the effect the original's single run could detect); **reproduced** if wholly
  beyond ``needed`` and reaching that third;
- a **"no loss"** claim (non-inferiority, ``needed`` = −margin): **reproduced** if the interval lies above
  −margin or TOST puts the mean within ``±margin``; **contradicted** if wholly below −margin;
- otherwise **inconclusive**; the row shows the minimum detectable effect at this ``n``;

and for a number the paper reports (``two_sided``; the quantity is ours − the paper's): **matches** (TOST
within ``±margin``), **exceeds**, **falls short**, or inconclusive. **not testable in this regime** and **not
run** are stated by the claim families. Gate rows read **passed** / **failed**.

**Gates.** A claim that compares pruning criteria is only evidence if, in the same regime and measurement, the
criteria beat random pruning: one pre-specified statistic per gate (:func:`control`), never a claim of the
papers, decides it. Where a gate fails, every comparative claim it guards reads *inconclusive (regime cannot
discriminate)*.

>>> judge(0.01, 0.04, False, Rule())[:2]
('reproduced', 'CI above 0')
>>> judge(-0.02, 0.01, True, Rule(margin=0.03))[:2]
('no meaningful difference', 'TOST: within ±0.03')
>>> judge(-0.016, 0.009, False, Rule(size=0.25))[:2]
('smaller than claimed', 'CI wholly below a third of the claimed 0.25 (direction undetermined)')
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from lib.core import stats

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
#: The fraction of a paper's stated size below which an effect counts as smaller than claimed.
SIZE_FRACTION = 1 / 3
CANNOT_DISCRIMINATE = "regime cannot discriminate: its gate failed"
NORMAL_ONLY = "decided under normality only"
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
        The effect the paper reports (NaN: the paper states none — *sign only*).
    margin
        Equivalence margin (NaN: no equivalence verdict), derived from measured noise.
    two_sided
        A number the paper reports, judged matches / exceeds / falls short (quantity: ours − paper's).
    basis, margin_basis
        Where ``needed`` and ``size`` come from, and where ``margin`` comes from, in words.
    """

    side: Side = "above"
    needed: float = 0.0
    size: float = math.nan
    margin: float = math.nan
    two_sided: bool = False
    basis: str = ""
    margin_basis: str = ""

    def __post_init__(self) -> None:
        if self.side not in ("above", "below"):
            raise ValueError(f"side={self.side!r}; allowed: 'above', 'below'")

    @property
    def non_inferiority(self) -> bool:
        """A "no loss" claim: the quantity must stay on the claimed side of minus the margin (``needed`` is the
        margin, on the other side)."""
        return not math.isnan(self.margin) and self.needed == (-self.margin if self.side == "above" else self.margin)

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
    """The :class:`Judgement` of an interval ``[low, high]`` and whether the equivalence test passed.

    >>> judge(-0.08, -0.02, False, Rule())
    Judgement(verdict='contradicted', reason='CI below 0', test='interval')
    >>> judge(0.1, 0.2, False, Rule(needed=0.35)).reason
    'CI wholly below 0.35, the size the claim needs'
    >>> judge(0.01, 0.03, False, Rule(size=0.25))[:2]
    ('smaller than claimed', 'CI wholly below a third of the claimed 0.25 (right direction)')
    >>> judge(-0.01, 0.01, True, Rule(two_sided=True, margin=0.02))
    Judgement(verdict='matches', reason='TOST: within ±0.02 of the paper', test='TOST')
    """
    if math.isnan(low) or math.isnan(high):
        return Judgement("inconclusive", "no interval (at least 2 seeds needed)", "none")
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
    need, floor = sign * rule.needed, sign * rule.size * SIZE_FRACTION
    beyond, short = ("above", "below") if sign > 0 else ("below", "above")
    if rule.non_inferiority:
        if lo > need or equivalent:
            if lo > need:
                return Judgement("reproduced", f"CI {beyond} {_num(rule.needed)}", "interval")
            return Judgement("reproduced", f"TOST: within ±{_num(rule.margin)} (no loss)", "TOST")
        if hi < need:
            return Judgement("contradicted", f"CI {short} {_num(rule.needed)}", "interval")
        return Judgement("inconclusive", f"CI contains {_num(rule.needed)}", "interval")
    if not math.isnan(rule.size):
        if hi < need:
            return Judgement("contradicted", f"CI {short} {_num(rule.needed)}", "interval")
        if hi < floor:
            direction = "right direction" if lo > need else "direction undetermined"
            return Judgement(
                "smaller than claimed",
                f"CI wholly {short} a third of the claimed {_num(rule.size)} ({direction})",
                "interval",
            )
        if lo > need:
            return Judgement("reproduced", f"CI {beyond} {_num(rule.needed)}", "interval")
        return Judgement("inconclusive", f"CI contains {_num(rule.needed)}", "interval")
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
        The p-value of the test that decided the verdict (t-test against the boundary crossed, or TOST); of
        the closest test for an inconclusive row. Holm-adjusted where the row belongs to a scanned family.
    side, needed, size, margin, two_sided, basis, margin_basis
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


@dataclass(frozen=True)
class Context:
    """Where a family's claims come from: source figure, dataset and the deviation from the paper's setup."""

    source: str
    dataset: str
    deviation: str


def _decisive_p(values: np.ndarray, verdict: str, test: str, rule: Rule) -> float:
    """The p-value of the test behind ``verdict`` (for an inconclusive row: the smallest of them)."""
    equivalence = stats.equivalence(values, rule.margin)
    sized = stats.pvalue(values, rule.size * SIZE_FRACTION) if not math.isnan(rule.size) else math.nan
    direction = stats.pvalue(values, 0.0 if rule.two_sided else rule.needed)
    if test == "TOST":
        return equivalence
    if verdict == "smaller than claimed":
        return sized
    if verdict in DECIDED:
        return direction
    return float(np.nanmin([direction, sized, equivalence, 1.0]))


def decide(v: np.ndarray, rule: Rule) -> Judgement:
    """The verdict of per-seed values ``v`` under ``rule`` and why, from the t interval and TOST (what
    :func:`claim` decides by; the sign-flip interval only qualifies it there)."""
    e = stats.interval(v)
    return judge(e.low, e.high, stats.equivalence(v, rule.margin) < 1 - stats.LEVEL, rule)


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
) -> Claim:
    """Judge per-seed ``values`` by ``rule`` and build the :class:`Claim` (both intervals, the MDE, the p-value)."""
    v = np.asarray([x for x in values if not pd.isna(x)], dtype=float)
    e, (verdict, reason, test) = stats.interval(v), decide(v, rule)
    flip_low, flip_high = stats.signflip_interval(v)
    note = ""
    if verdict in DECIDED:
        flip_equivalent = False
        if test == "TOST":
            lo90, hi90 = stats.signflip_interval(v, 1 - 2 * (1 - stats.LEVEL))
            flip_equivalent = -rule.margin < lo90 and hi90 < rule.margin
        if judge(flip_low, flip_high, flip_equivalent, rule)[0] != verdict:
            note = f"{NORMAL_ONLY} (the sign-flip interval does not decide)"
    return Claim(
        paper,
        text,
        paper_value,
        quantity,
        e.mean,
        e.low,
        e.high,
        e.n,
        e.sd,
        flip_low,
        flip_high,
        stats.detectable(e.sd, e.n),
        _decisive_p(v, verdict, test, rule),
        rule.side,
        rule.needed,
        rule.size,
        rule.margin,
        rule.two_sided,
        rule.basis,
        rule.margin_basis,
        verdict,
        reason,
        test,
        note,
        primary,
        comparative,
        ctx.source,
        ctx.dataset,
        ctx.deviation,
    )


def stated(
    paper: str, text: str, paper_value: str, verdict: str, why: str, ctx: Context, *, primary: bool, rule: Rule = Rule()
) -> Claim:
    """A claim with no measurement behind it: ``not run`` (e.g. its dataset is missing) or ``not testable in this
    regime`` (:func:`lib.verdicts.papers.fig3_claims`' testability rule), with the reason."""
    if verdict not in ("not run", "not testable in this regime"):
        raise ValueError(f"verdict={verdict!r}; allowed: 'not run', 'not testable in this regime'")
    nan = math.nan
    return Claim(
        paper,
        text,
        paper_value,
        "—",
        nan,
        nan,
        nan,
        0,
        nan,
        nan,
        nan,
        nan,
        nan,
        rule.side,
        rule.needed,
        rule.size,
        rule.margin,
        rule.two_sided,
        rule.basis,
        rule.margin_basis,
        verdict,
        why,
        "none",
        "",
        primary,
        False,
        ctx.source,
        ctx.dataset,
        ctx.deviation,
    )


def every(rows: Sequence[Claim], text: str, quantity: str) -> Claim:
    """A claim "at every level" from its per-level rows (the same rule at each level): *reproduced* only if every
    level is (an intersection-union test: no correction needed); *contradicted* if some level is after Holm's
    correction over the levels; *no meaningful difference* if every level is; else *inconclusive*. Its numbers
    are those of the least favourable level (the lowest mean on the claimed side)."""
    if not rows:
        raise ValueError("no per-level rows")
    verdicts = [r.verdict for r in rows]
    adjusted = stats.holm([r.p for r in rows])
    contra = [r for r, q in zip(rows, adjusted) if r.verdict == "contradicted" and q < 1 - stats.LEVEL]
    sign = 1.0 if rows[0].side == "above" else -1.0
    worst = min(rows, key=lambda r: -math.inf if math.isnan(r.estimate) else sign * r.estimate)
    if all(v == "reproduced" for v in verdicts):
        verdict, reason = "reproduced", f"reproduced at each of {len(rows)} levels"
    elif contra:
        verdict, reason = "contradicted", f"contradicted at {len(contra)} of {len(rows)} levels (Holm over the levels)"
    elif all(v == "no meaningful difference" for v in verdicts):
        verdict, reason = "no meaningful difference", f"equivalent at each of {len(rows)} levels"
    else:
        counts = pd.Series(verdicts).value_counts()
        verdict, reason = "inconclusive", "per level: " + ", ".join(f"{k} {v}" for k, v in counts.items())
    return dataclasses.replace(
        worst, claim=text, quantity=quantity, verdict=verdict, reason=reason, test="levels", note=""
    )


def holm_family(rows: Sequence[Claim]) -> list[Claim]:
    """A family a reader scans for a decided row: each row's p-value Holm-adjusted over the family
    (:func:`lib.core.stats.holm`); a decided row whose adjusted p is not below 0.05 becomes inconclusive."""
    rows = list(rows)
    adjusted = stats.holm([r.p for r in rows])
    out = []
    for r, q in zip(rows, adjusted):
        r = dataclasses.replace(r, p=float(q))
        if r.verdict in DECIDED and not q < 1 - stats.LEVEL:
            r = dataclasses.replace(
                r,
                verdict="inconclusive",
                test="Holm",
                reason=f"{r.verdict} before, not after Holm's correction over {len(rows)} rows",
            )
        out.append(r)
    return out


def gate(claims: Iterable[Claim], passed: bool) -> list[Claim]:
    """Apply a gate: if it failed, every comparative claim it guards becomes inconclusive (its reason keeps the
    verdict its interval alone would give)."""
    if passed:
        return list(claims)
    return [
        dataclasses.replace(
            c,
            verdict="inconclusive",
            reason=CANNOT_DISCRIMINATE,
            test="gate",
            note="; ".join(filter(None, [f"ungated: {c.verdict}", c.note])),
        )
        if c.comparative and c.verdict not in ("not run", "not testable in this regime")
        else c
        for c in claims
    ]


def control(statistic: pd.Series, text: str, quantity: str, ctx: Context, scan: str = "") -> tuple[Claim, bool]:
    """A gate: one pre-specified per-seed ``statistic`` (criteria − random, oriented so that a working regime is
    positive) passes if its 95 % t interval lies above 0. ``scan``: what a corrected scan over criteria and levels
    shows, for the reader (it does not decide)."""
    row = claim(
        "control",
        text,
        "(not in the paper)",
        quantity,
        statistic,
        Rule(basis="pre-specified gate"),
        ctx,
        primary=False,
        comparative=False,
    )
    passed = row.verdict == "reproduced"
    return dataclasses.replace(
        row,
        verdict="passed" if passed else "failed",
        test="gate",
        reason="regime can discriminate" if passed else CANNOT_DISCRIMINATE,
        note="; ".join(filter(None, [scan, row.note])),
    ), passed


def scanned(pairs: dict[str, pd.Series]) -> str:
    """A scan over (criterion, level) pairs of per-seed differences, Holm-corrected: how many lie above 0."""
    names = list(pairs)
    adjusted = stats.holm([stats.pvalue(pairs[k]) for k in names])
    above = [k for k, q in zip(names, adjusted) if q < 1 - stats.LEVEL and pairs[k].mean() > 0]
    best = max(names, key=lambda k: pairs[k].mean()) if names else "—"
    return (
        f"scan over {len(names)} criterion × level pairs, Holm-corrected: {len(above)} above 0 "
        f"(largest mean: {best}); shown, not deciding"
    )


def table(claims: Iterable[Claim]) -> pd.DataFrame:
    """The claims as a tidy frame of numbers (one row per claim, :class:`Claim`'s fields as columns)."""
    return pd.DataFrame([dataclasses.asdict(c) for c in claims], columns=[f.name for f in dataclasses.fields(Claim)])
