"""Study 2's claims: FlexRel judged on the paper's own measure, the held-out accuracy a pruned network *reaches* after
the paper's schedule (:mod:`lib.protocols.schedule`), by the plan addendum's endpoints (:data:`ENDPOINTS`), each with
its smallest effect of interest written here as a number — never floored by the data that judges it.

Why these endpoints, fixed before the pilot's data was read (the pilot sets the seeds' sds and the costs only):

- **Fig. 2, "even better than magnitude"** — FlexRel − magnitude reached accuracy at every level of Fig. 2
  (non-inferiority at each, an intersection-union test) with margin :data:`ACCURACY_MARGIN`;
- **Fig. 2's reach** — FlexRel − magnitude fraction of parameters removed before the reached accuracy falls below
  :data:`lib.verdicts.papers.PRIMARY_TARGET` of the unpruned network's (trained for the whole budget), the paper's
  stated +25 pts judged against its 19.5-pt smallest effect (:data:`lib.verdicts.papers.REACH_SESOI`), and relevance's
  reach against magnitude's (+10 stated, 5 pts);
- **Fig. 2's border** — FlexRel's fraction of parameters removed at the last point keeping
  :data:`lib.verdicts.papers.BORDER_TARGET` of the unpruned accuracy, above 30 %;
- **Fig. 3, "almost negligible"** — relevance's share of the FlexRel run's own measured time (first phase, LRP and
  every post-pruning epoch), below 5 %;
- **Fig. 4** — reached accuracy at the δ FlexRel uses minus at each end (δ = 0: magnitude, δ = 1: relevance), mean
  over Fig. 4's levels, above 0 at both (direction, margin :data:`ACCURACY_MARGIN`).

**Random's role** is decided before the data too (:data:`RANDOM_ROLE`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from scipy import stats as scipy_stats
from statsmodels.stats.power import TTestPower

from ..protocols.schedule import UNPRUNED
from . import measures, papers, rules
from .rules import Claim, Context, Rule, claim, every, holm_family

#: "Almost constant" / "no meaningful difference" in reached accuracy: 1 point of held-out accuracy, the study 1
#: reading (1 % of the unpruned accuracy, ≈ 0.9 pts at FashionMNIST's ≈ 0.9) rounded up to a whole point and written
#: as a number, so that no run's noise can move it.
ACCURACY_MARGIN = 0.01
#: Power a confirmatory run needs so that a rerun on another machine (another draw of every network) decides the same
#: way with probability ≥ 0.90: two independent runs agree on a decision with probability ≈ π², so π ≥ √0.90.
RERUN_AGREEMENT = 0.90
RUN_POWER = math.sqrt(RERUN_AGREEMENT)
#: Upper confidence limit of the pilot's sd that power is computed at (one-sided; χ² on n − 1 degrees of freedom).
SD_CONFIDENCE = 0.90
#: What a criterion ≈ random result means on this measure, and so what random's row does (the addendum prints it).
RANDOM_ROLE = (
    "Liu et al. (2019) found that training a pruned network erases much of what its criterion chose. If it does here, "
    "every criterion ≈ random on this measure, and that is itself a result, read before the data as follows. The "
    "claimed advantage is judged where it has a size or a direction: the reach (+25 pts stated, 19.5-pt SESOI) and "
    "Fig. 4 (δ = 0.5 beats both ends). There a criterion ≈ random result makes FlexRel − magnitude ≈ 0, which reads "
    "'smaller than claimed' and 'no meaningful difference': evidence against the advantage, whatever random does. "
    "'FlexRel ≥ magnitude at every factor' is non-inferiority: reproduced means only that FlexRel loses no more than "
    "1 pt to magnitude anywhere, which criteria ≈ random would also give; it never stands for the advantage. So "
    "random guards no verdict in study 2: every comparison is paired on one network and one training, valid "
    "without it, and a gate near its boundary would toggle every verdict it guards on a rerun (study 1's did). The "
    "criteria − random difference is shown beside the primaries with its interval and its own verdict, and counts "
    "in no headline."
)
#: How the two studies' verdicts on the same FlexRel claims are reported (the addendum prints it).
HEADLINE = (
    "Study 2 judges FlexRel's claims on the measure the paper reports them on, so its verdicts are FlexRel's headline; "
    "study 1's registered verdicts (retention, a proxy) stay beside them as they were decided, each claim with both, "
    "never combined, averaged or chosen between. Where the two disagree, the report says so on the claim's line. A "
    "rule that checks equivalence first reads an interval inside ±1 pt as 'no meaningful difference' even when it "
    "also lies above 0 (study 1's convention, kept): Fig. 4's δ must beat each end by an interval that leaves ±1 pt."
)
#: The most seeds the design searches for the rerun power (beyond it: ∞).
MAX_SEEDS = 500
#: Seeds of study 2's confirmatory run, and of the ``powered`` GPU profile.
PLANNED_N = 12
POWERED_N = 24

EVERY, REACH, RELEVANCE_REACH, BORDER, NEGLIGIBLE, FIG4 = (
    "schedule.fig2.every",
    "schedule.fig2.reach",
    "schedule.fig2.relevance_reach",
    "schedule.fig2.border",
    "schedule.fig3.negligible",
    "schedule.fig4.intermediate",
)


@dataclass(frozen=True)
class Endpoint:
    """A primary endpoint of study 2: its claim, what is measured per seed, the rule, and the numbers power is
    computed at. ``kind``: ``non-inferiority at every level``, ``stated size``, ``threshold`` or
    ``direction at both ends``; ``effect``: the true value power assumes (NaN: the rule's own boundary ± the margin)."""

    id: str
    claim: str
    quantity: str
    kind: str
    rule: Rule
    effect_basis: str
    unit: str = "pts"


ENDPOINTS = (
    Endpoint(
        EVERY,
        "FlexRel ≥ magnitude at every pruning factor (Fig. 2: 'even better than magnitude'; read as no loss)",
        "FlexRel − magnitude reached accuracy at each of Fig. 2's levels",
        "non-inferiority at every level",
        Rule(
            needed=-ACCURACY_MARGIN,
            margin=ACCURACY_MARGIN,
            basis="non-inferiority: 'FlexRel ≥ magnitude'",
            margin_basis="1 pt of accuracy, fixed",
        ),
        "no true difference: the margin away from −margin",
    ),
    Endpoint(
        REACH,
        "FlexRel removes more parameters than magnitude before accuracy falls below a target (paper: 60 % vs ≈ 35 % "
        "at a 70 % target)",
        f"FlexRel − magnitude fraction of parameters removed at {papers.PRIMARY_TARGET:.0%} of the unpruned "
        "reached accuracy",
        "stated size",
        Rule(
            size=papers.REACH_70["flexrel"] - papers.REACH_70["magnitude"],
            sesoi=papers.REACH_SESOI,
            basis="claimed: 60 % − 35 %",
            sesoi_basis="the paper's 'overhead reduction of over 30 %' at magnitude's 35 % (19.5 pts), fixed",
        ),
        "the claimed +25 pts against the 19.5-pt SESOI, and no lead at all against it",
    ),
    Endpoint(
        RELEVANCE_REACH,
        "relevance alone substantially worse than magnitude: it prunes ≈ 25 % vs ≈ 35 % at a 70 % target",
        f"magnitude − relevance fraction of parameters removed at {papers.PRIMARY_TARGET:.0%} of the unpruned "
        "reached accuracy",
        "stated size",
        Rule(
            size=papers.REACH_70["magnitude"] - papers.REACH_70["relevance"],
            sesoi=papers.RELEVANCE_REACH_SESOI,
            basis="claimed: 35 % − 25 %",
            sesoi_basis="the smallest gap ≈ 25 % and ≈ 35 % allow on the paper's 5-pt grid (5 pts), fixed",
        ),
        "the claimed +10 pts against the 5-pt SESOI, and no gap at all against it",
    ),
    Endpoint(
        BORDER,
        "FlexRel pushes the border of the flat region beyond 30 % (up to 50 %) of parameters removed",
        f"FlexRel's fraction of parameters removed at the last point keeping {papers.BORDER_TARGET:.0%} of the "
        "unpruned reached accuracy",
        "threshold",
        Rule(needed=papers.BORDER, basis="threshold: 'exceeding 30 %'"),
        "the middle of the paper's 'exceeding 30 % and up to 50 %' (40 %) against the 30 % threshold",
    ),
    Endpoint(
        NEGLIGIBLE,
        "relevance computation time almost negligible (Fig. 3)",
        "relevance share of the FlexRel run's measured time (first phase, LRP, every post-pruning epoch)",
        "threshold",
        Rule(side="below", needed=papers.NEGLIGIBLE, basis="threshold: 'almost negligible' read as < 5 %"),
        "the pilot mean's one-sided 95 % upper limit against the 5 % threshold (a time share moves with the machine, "
        "not with float rounding: its rerun power is that of a rerun on the same kind of machine)",
        unit="%",
    ),
    Endpoint(
        FIG4,
        "the best δ is intermediate: magnitude alone (δ = 0) and relevance alone (δ = 1) are both suboptimal (Fig. 4)",
        "reached accuracy at FlexRel's δ − at each end, mean over Fig. 4's levels",
        "direction at both ends",
        Rule(margin=ACCURACY_MARGIN, basis="sign, at both ends", margin_basis="1 pt of accuracy, fixed"),
        "a lead of one margin at both ends",
    ),
)
BY_ID = {e.id: e for e in ENDPOINTS}
#: One-sided level each primary's deciding side must reach under Holm over study 2's primaries, at worst (the
#: smallest p is compared with α/m): power is computed there, a lower bound of Holm's.
ALPHA = rules.ONE_SIDED / len(ENDPOINTS)
#: The kinds judged at several levels at once (an intersection-union test over them).
LEVELLED = ("non-inferiority at every level", "direction at both ends")


def reached(trajectory: pd.DataFrame) -> pd.DataFrame:
    """The measure: each run's row after its last post-pruning epoch, the unpruned run as factor 0 of every method
    (each curve starts there), random's draws as they are."""
    last = trajectory[trajectory.post_epoch == trajectory.post_epoch.max()]
    pruned, full = last[last.method != UNPRUNED], last[last.method == UNPRUNED]
    starts = [full.assign(method=m, delta=None) for m in sorted(set(pruned.method))]
    return pd.concat([pruned, *starts], ignore_index=True)


def per_seed(
    trajectory: pd.DataFrame, delta: float, fig2_levels: list[float], fig4_levels: list[float]
) -> pd.DataFrame:
    """Every endpoint's per-seed values (columns ``endpoint``, ``level``, ``seed``, ``value``) from study 2's
    trajectories: what the claims judge and what the addendum sizes the confirmatory run on."""
    final = reached(trajectory)
    fig2 = final[(final.delta.isna()) | (final.delta == delta) | (final.factor == 0)]
    fig2 = fig2[fig2.factor.isin([0.0, *fig2_levels])]
    rows: list[pd.DataFrame] = []

    def add(endpoint: str, values: pd.Series, level: str = "") -> None:
        rows.append(pd.DataFrame({"endpoint": endpoint, "level": level, "seed": values.index, "value": values.values}))

    for f in fig2_levels:
        at = fig2[fig2.factor == f]
        add(EVERY, measures.compare(at, "flexrel", "magnitude", "test_acc"), f"factor {f:g}")
    reach = measures.reach(fig2, papers.PRIMARY_TARGET)
    add(REACH, measures.compare(reach, "flexrel", "magnitude", "params_removed"))
    add(RELEVANCE_REACH, measures.compare(reach, "magnitude", "relevance", "params_removed"))
    border = measures.reach(fig2[fig2.method == "flexrel"], papers.BORDER_TARGET)
    add(BORDER, border.set_index("seed").params_removed)
    runs = final[(final.method == "flexrel") & (final.delta == delta) & final.factor.isin(fig2_levels)]
    add(NEGLIGIBLE, (runs.relevance_seconds / runs.elapsed).groupby(runs.seed).mean())
    sweep = final[final.factor.isin(fig4_levels) & (final.method == "flexrel")]
    ends = final[final.factor.isin(fig4_levels) & final.method.isin(["magnitude", "relevance"])]
    ends = ends.assign(delta=ends.method.map({"magnitude": 0.0, "relevance": 1.0}))
    by_delta = pd.concat([sweep, ends]).groupby(["seed", "delta"], as_index=False).test_acc.mean()
    by_delta = by_delta.rename(columns={"delta": "method"})
    for end in (0.0, 1.0):
        add(FIG4, measures.compare(by_delta, delta, end, "test_acc"), f"vs δ = {end:g}")
    return pd.concat(rows, ignore_index=True)


def sd_upper(sd: float, n: int, confidence: float = SD_CONFIDENCE) -> float:
    """The one-sided upper ``confidence`` limit of a standard deviation ``sd`` estimated from ``n`` values (χ²)."""
    if n < 2 or math.isnan(sd):
        return math.nan
    return sd * math.sqrt((n - 1) / scipy_stats.chi2.ppf(1 - confidence, n - 1))


def _power(effect: float, n: int) -> float:
    """One-sided power of the deciding side of the 95 % interval at ``n`` seeds, ``effect`` sds from its boundary, at
    :data:`ALPHA`, Holm's smallest level over the study's primaries (Bonferroni: a lower bound of Holm's power)."""
    if math.isinf(effect):
        return 1.0 if effect > 0 else 0.0
    return float(TTestPower().power(effect_size=effect, nobs=n, alpha=ALPHA, alternative="larger"))


def _distances(e: Endpoint, sd: float, values: pd.Series) -> list[float]:
    """For one level: the standardised distances from the true value the design assumes to the boundary each decision
    the endpoint can reach must clear (see each endpoint's ``effect_basis``)."""
    r = e.rule
    if e.kind in LEVELLED:
        return [r.margin / sd]
    if e.kind == "stated size":
        return [(r.size - r.sesoi) / sd, r.sesoi / sd]
    if e.id == BORDER:
        assumed = (papers.BORDER + papers.BORDER_UP_TO) / 2  # the middle of the paper's "exceeding 30 % and up to 50 %"
    else:  # the least favourable value the pilot allows: its mean's one-sided 95 % upper limit
        n = len(values)
        assumed = float(values.mean() + scipy_stats.t.ppf(0.95, n - 1) * values.std(ddof=1) / math.sqrt(n))
    sign = 1.0 if r.side == "above" else -1.0
    return [sign * (assumed - r.needed) / sd]


def _joint_power(e: Endpoint, values: pd.DataFrame, n: int) -> float:
    """Power of one run at ``n`` seeds: each level's at the upper confidence limit of its pilot sd, for its least
    favourable decision; over the levels of an intersection-union test, the lower bound ``1 − Σ(1 − πᵢ)``. NaN where a
    level's spread cannot be measured (fewer than two pilot values, or none at all)."""
    misses = 0.0
    for _, g in values.groupby("level"):
        upper = sd_upper(float(g.value.std(ddof=1)), len(g))
        if not upper > 0:
            return math.nan
        misses += 1 - min(_power(x, n) for x in _distances(e, upper, g.value))
    return max(0.0, 1 - misses)


def design(values: pd.DataFrame, n: int = PLANNED_N) -> pd.DataFrame:
    """The addendum's power table, from the pilot's per-seed values (:func:`per_seed`): per endpoint the pilot's sd
    (largest over its levels) and its upper confidence limit, the power of one run at ``n`` seeds
    (:func:`_joint_power`, at Holm's smallest level), the probability that a rerun reaches the same decision
    (≈ power²), the fewest seeds that give :data:`RUN_POWER`, the distance from the boundary at which a true value is
    decided alike by two runs at ``n`` with probability :data:`RERUN_AGREEMENT` (in the endpoint's units, at the
    largest upper sd), and whether the endpoint is underpowered by design at ``n`` (or cannot be sized: NaN power)."""
    rows = []
    d_star = TTestPower().solve_power(nobs=n, alpha=ALPHA, power=RUN_POWER, alternative="larger")
    for e in ENDPOINTS:
        v = values[values.endpoint == e.id]
        sd, k = float(v.groupby("level").value.std(ddof=1).max()), int(v.seed.nunique())
        upper = sd_upper(sd, k)
        power = _joint_power(e, v, n)
        needed = next((m for m in range(2, MAX_SEEDS + 1) if _joint_power(e, v, m) >= RUN_POWER), math.inf)
        rows.append(
            {
                "endpoint": e.id,
                "unit": e.unit,
                "pilot_n": k,
                "pilot_mean": float(v.value.mean()),
                "pilot_sd": sd,
                "sd_upper": upper,
                "n": n,
                "power": power,
                "rerun_agreement": power**2,
                "n_for_rerun": needed,
                "rerun_distance": float(d_star * upper),
                "underpowered": not power >= RUN_POWER,
            }
        )
    return pd.DataFrame(rows)


def claims(
    trajectory: pd.DataFrame, delta: float, fig2_levels: list[float], fig4_levels: list[float], ctx: Context
) -> list[Claim]:
    """Study 2's verdicts: each primary by its endpoint's rule (every level and both ends as intersection-union
    tests, :func:`lib.verdicts.rules.every`), Holm over the primaries (:func:`lib.verdicts.rules.holm_family`),
    underpowered-by-design ones marked as the addendum declares them, then the per-level rows and the control,
    never deciding."""
    values = per_seed(trajectory, delta, fig2_levels, fig4_levels)
    declared = set(DECLARED_UNDERPOWERED)
    primaries, shown = [], []
    for e in ENDPOINTS:
        v = values[values.endpoint == e.id]
        rows = [
            claim(
                "FlexRel",
                f"{e.claim} ({level})" if level else e.claim,
                _paper_value(e),
                f"{e.quantity}{f' ({level})' if level else ''}",
                g.set_index("seed").value,
                e.rule,
                ctx,
                primary=not level,
                comparative=True,
                endpoint="" if level else e.id,
                level=level,
                unit=e.unit,
            )
            for level, g in v.groupby("level", sort=False)
        ]
        if e.kind in LEVELLED:
            top = every(rows, e.claim, f"{e.quantity} (least favourable shown)")
            top = rules.dataclasses.replace(top, primary=True, endpoint=e.id, unit=e.unit)
            shown += rows
        else:
            top = rows[0]
        if e.id in declared:
            top = rules.dataclasses.replace(top, design=rules.UNDERPOWERED)
        primaries.append(top)
    return [*holm_family(primaries), *shown, control(trajectory, delta, fig2_levels, ctx)]


def _paper_value(e: Endpoint) -> str:
    r = e.rule
    if r.stated:
        return f"+{r.size * 100:.0f} points"
    if e.kind == "threshold":
        return f"{'>' if r.side == 'above' else '<'} {r.needed:.0%}"
    return "FlexRel ≥ magnitude" if e.kind.startswith("non-inferiority") else "intermediate δ best"


def control(trajectory: pd.DataFrame, delta: float, fig2_levels: list[float], ctx: Context) -> Claim:
    """The paper's criteria − random reached accuracy, mean over Fig. 2's levels: shown beside the primaries with its
    interval, guarding none of them (the module's text says why)."""
    final = reached(trajectory)
    fig2 = final[(final.delta.isna()) | (final.delta == delta) | (final.factor == 0)]
    statistic = measures.against_random(fig2, list(papers.CRITERIA), fig2_levels)
    return claim(
        "control",
        "the paper's criteria beat random pruning on the reached accuracy (not a gate: shown, never deciding)",
        "(not in the paper)",
        "mean of magnitude, relevance and FlexRel − random reached accuracy, mean over Fig. 2's levels",
        statistic,
        Rule(margin=ACCURACY_MARGIN, basis="direction", margin_basis="1 pt of accuracy, fixed"),
        ctx,
        primary=False,
        comparative=False,
    )


#: The commit of the plan addendum, made after the pilot and before any confirmatory seed of study 2 ran: the addendum,
#: the pilot it rests on and section ``schedule`` stay as they were there (``tests/test_plan.py``).
ADDENDUM_COMMIT = "5fa9b41"
#: Endpoints the addendum declares underpowered by design at :data:`PLANNED_N` (from :func:`design` on the pilot;
#: a test checks this against the committed pilot).
DECLARED_UNDERPOWERED: tuple[str, ...] = (EVERY, REACH, RELEVANCE_REACH, BORDER, FIG4)
