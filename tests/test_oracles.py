"""Oracles written apart from the code they check (issue 42): every expected value here comes from scipy's t
distribution, Holm's step-down written out, or arithmetic on small explicit numbers — never from the function under
test or its helpers (``lib.core.stats`` included)."""

import math
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from lib.core import timing
from lib.params import profiles
from lib.verdicts import measures, robustness, rules, study_claims
from lib.verdicts.rules import Rule

CTX = rules.Context("Fig. X", "Synthetic", "none")
T975 = lambda n: sps.t.ppf(0.975, n - 1)  # noqa: E731  the 95 % interval's quantile at n values


def _claim(values, rule=Rule(), comparative=False, primary=True):
    return rules.claim("P", "c", "v", "q", values, rule, CTX, primary=primary, comparative=comparative)


def _mean_se(v):
    v = np.asarray(v, dtype=float)
    return v.mean(), v.std(ddof=1) / math.sqrt(len(v)), len(v)


def _t_p(v, null):
    """Two-sided one-sample t-test p, by hand: t = (mean − null) / (sd/√n), p = 2·P(T > |t|)."""
    mean, se, n = _mean_se(v)
    return 2 * sps.t.sf(abs(mean - null) / se, n - 1)


def _tost_p(v, margin):
    """Two one-sided t-tests that the mean lies within ±margin, by hand: the larger of P(T > (mean + margin)/se)
    (H0: mean ≤ −margin) and P(T < (mean − margin)/se) (H0: mean ≥ margin)."""
    mean, se, n = _mean_se(v)
    return max(sps.t.sf((mean + margin) / se, n - 1), sps.t.cdf((mean - margin) / se, n - 1))


def _holm(ps):
    """Holm's step-down adjustment written out: sorted ascending, the i-th (from 0) times m − i, kept monotone."""
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    out, running = [0.0] * len(ps), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(ps) - rank) * ps[i]))
        out[i] = running
    return out


def _ci(v):
    mean, se, n = _mean_se(v)
    return mean - T975(n) * se, mean + T975(n) * se


# --- A. the p each kind of rule gives Holm ---------------------------------------------------------------------------

#: One row of each kind of rule the papers' families use: (kind, per-seed values, rule, verdict, the p by hand —
#: the t-test against the value the rule tests, and where the rule can decide by equivalence, twice the TOST p).
KINDS = [
    ("direction (sign only)", [0.02, 0.035, 0.01, 0.03, 0.025], Rule(), "reproduced", lambda v: _t_p(v, 0.0)),
    ("threshold", [0.33, 0.41, 0.37, 0.44, 0.39], Rule(needed=0.35), "inconclusive", lambda v: _t_p(v, 0.35)),
    (
        "threshold, claimed below",
        [0.01, 0.03, 0.02, 0.015, 0.045],
        Rule(side="below", needed=0.05),
        "reproduced",
        lambda v: _t_p(v, 0.05),
    ),
    (
        "stated size (against its sesoi, not 0)",
        [0.16, 0.12, 0.19, 0.14, 0.17],
        Rule(size=0.25, sesoi=0.1),
        "reproduced",
        lambda v: _t_p(v, 0.1),
    ),
    (
        "direction with a margin (TOST route decides)",
        [0.004, -0.003, 0.001, -0.002, 0.003],
        Rule(margin=0.01),
        "no meaningful difference",
        lambda v: min(_t_p(v, 0.0), 2 * _tost_p(v, 0.01)),
    ),
    (
        "'substantially': beyond the margin, with its TOST route",
        [0.03, 0.05, 0.04, 0.02, 0.06],
        Rule(needed=0.01, margin=0.01),
        "reproduced",
        lambda v: min(_t_p(v, 0.01), 2 * _tost_p(v, 0.01), 1.0),
    ),
    (
        "non-inferiority (against −margin, no TOST route)",
        [-0.004, 0.002, -0.001, 0.003, -0.006],
        Rule(needed=-0.01, margin=0.01),
        "reproduced",
        lambda v: _t_p(v, -0.01),
    ),
    (
        "non-inferiority, claimed below (against +margin)",
        [0.004, -0.002, 0.001, -0.003, 0.006],
        Rule(side="below", needed=0.01, margin=0.01),
        "reproduced",
        lambda v: _t_p(v, 0.01),
    ),
    (
        "a reported number: exceeds (t route)",
        [0.012, 0.02, 0.016, 0.009, 0.018],
        Rule(two_sided=True, margin=0.005),
        "exceeds",
        lambda v: min(_t_p(v, 0.0), 2 * _tost_p(v, 0.005), 1.0),
    ),
    (
        "a reported number: matches (TOST route)",
        [0.001, -0.002, 0.0, 0.002, -0.001],
        Rule(two_sided=True, margin=0.01),
        "matches",
        lambda v: min(_t_p(v, 0.0), 2 * _tost_p(v, 0.01)),
    ),
]


@pytest.mark.parametrize("kind, values, rule, verdict, expected", KINDS, ids=[k[0] for k in KINDS])
def test_each_kind_of_rule_gives_holm_the_p_of_its_own_test(kind, values, rule, verdict, expected):
    c = _claim(values, rule)
    assert c.verdict == verdict
    assert c.p == pytest.approx(expected(values), rel=1e-9)
    assert (c.p < 0.05) == (verdict in rules.DECIDED)


def test_the_hand_written_t_test_and_holm_are_scipys_and_statsmodels():
    v = KINDS[3][1]
    assert _t_p(v, 0.1) == pytest.approx(sps.ttest_1samp(v, 0.1).pvalue, rel=1e-12)
    # the stated size is tested against its sesoi: its p against 0 would be about 20 times smaller
    assert _t_p(v, 0.0) < _t_p(v, 0.1) / 20
    ps = [0.01, 0.04, 0.003, 0.5, 0.02]
    assert _holm(ps) == pytest.approx(list(multipletests(ps, method="holm")[1]), rel=1e-12)


def test_holm_receives_each_rows_own_p_in_a_family_and_among_a_papers_primaries():
    rows = [_claim(values, rule) for _, values, rule, *_ in KINDS]
    own = [expected(values) for _, values, _, _, expected in KINDS]
    family = rules.holm_family(rows)
    assert [r.p for r in family] == pytest.approx(_holm(own), rel=1e-9)
    corrected = rules.correct_primaries(rules.table(rows))
    assert corrected.p.tolist() == pytest.approx(_holm(own), rel=1e-9)
    # a decided row whose adjusted p is not below 0.05 reads inconclusive
    expected = [v if q < 0.05 else "inconclusive" for q, (*_, v, _) in zip(_holm(own), KINDS)]
    assert corrected.verdict.tolist() == expected


# --- B. the level rule of a claim at every level ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "verdicts, ps, verdict, p",
    [
        # reproduced at every level: the intersection-union test's p is the largest level p
        (["reproduced", "reproduced"], [0.001, 0.04], "reproduced", 0.04),
        (["reproduced"] * 3, [0.03, 0.001, 0.02], "reproduced", 0.03),
        (["no meaningful difference"] * 2, [0.01, 0.03], "no meaningful difference", 0.03),
        # contradicted: the Holm-adjusted p of the contradicted level (sorted 0.001·3, 0.01·2, 0.5·1), never the
        # reproduced level's 0.003
        (["reproduced", "contradicted", "inconclusive"], [0.001, 0.01, 0.5], "contradicted", 0.02),
        # two contradicted levels: the smaller adjusted p (0.001·2 = 0.002; the other 0.02)
        (["contradicted", "contradicted"], [0.001, 0.02], "contradicted", 0.002),
        # one contradiction survives Holm (0.004·3 = 0.012), the other does not (0.03·2 = 0.06)
        (["contradicted", "contradicted", "inconclusive"], [0.004, 0.03, 0.2], "contradicted", 0.012),
        # inconclusive: the largest level p, not the reproduced level's Holm-adjusted 0.002
        (["reproduced", "inconclusive"], [0.001, 0.3], "inconclusive", 0.3),
        # a contradiction Holm does not keep (0.03·3 = 0.09): inconclusive, with the largest level p
        (["contradicted", "inconclusive", "inconclusive"], [0.03, 0.2, 0.6], "inconclusive", 0.6),
    ],
)
def test_the_level_rules_p_is_that_of_the_test_that_decides_it(verdicts, ps, verdict, p):
    got = rules._every_verdict(verdicts, ps)
    assert got[0] == verdict and got[2] == pytest.approx(p, rel=1e-12)


def test_a_level_rule_with_no_p_at_any_level_has_none():
    verdict, _, p = rules._every_verdict(["inconclusive", "inconclusive"], [math.nan, math.nan])
    assert verdict == "inconclusive" and math.isnan(p)


def test_every_level_on_rows_with_unequal_p():
    strong = [0.05, 0.052, 0.048, 0.051, 0.049, 0.05]  # p ≈ 1e-10
    weak = [0.01, 0.03, 0.002, 0.025, 0.008, 0.02]  # p ≈ 0.01
    down = [-0.03, -0.02, -0.04, -0.025, -0.035, -0.03]
    wide = [0.05, -0.06, 0.02, -0.01, 0.04, -0.03]
    p_strong, p_weak, p_down, p_wide = (_t_p(v, 0.0) for v in (strong, weak, down, wide))
    assert p_strong < 1e-8 and 0.001 < p_weak < 0.05 and p_wide > 0.5
    up = rules.every([_claim(strong), _claim(weak)], "t", "q")
    assert up.verdict == "reproduced" and up.p == pytest.approx(p_weak, rel=1e-9)
    assert up.estimate == pytest.approx(np.mean(weak))  # the least favourable level
    mixed = rules.every([_claim(strong), _claim(down), _claim(wide)], "t", "q")
    holm = _holm([p_strong, p_down, p_wide])
    assert mixed.verdict == "contradicted" and mixed.reason == "contradicted at 1 of 3 levels (Holm over the levels)"
    assert mixed.p == pytest.approx(holm[1], rel=1e-9) and mixed.p > holm[0]
    undecided = rules.every([_claim(strong), _claim(wide)], "t", "q")
    assert undecided.verdict == "inconclusive" and undecided.p == pytest.approx(p_wide, rel=1e-9)


# --- C. leave one seed out, brute force ------------------------------------------------------------------------------


def _by_hand(values: pd.Series, needed: float = 0.0) -> str:
    """The verdict of a sign-only rule (or a threshold ``needed``) from the 95 % t interval computed here."""
    low, high = _ci(values.to_numpy())
    if low > needed:
        return "reproduced"
    if high < needed:
        return "contradicted"
    return "inconclusive"


def _loo_by_hand(values: pd.Series, needed: float = 0.0) -> str:
    verdict = _by_hand(values, needed)
    changed = [(s, _by_hand(values.drop(s), needed)) for s in values.index]
    changed = [f"without seed {s} → {v}" for s, v in changed if v != verdict]
    return "decided with any one seed removed" if not changed else "fragile: " + "; ".join(changed)


#: Seed 101 holds this up: without it the 95 % interval's lower end is −0.0011; without any other seed it stays
#: above +0.0005.
LEANING = pd.Series([0.008, 0.022, 0.01, 0.006, 0.011, 0.036], index=range(100, 106))
FIRM = pd.Series([0.031, 0.029, 0.030, 0.032, 0.028, 0.033], index=range(100, 106))


def test_leave_one_seed_out_against_a_brute_force_loop():
    assert _ci(LEANING.to_numpy())[0] > 0.003 and _ci(LEANING.drop(101).to_numpy())[0] < -0.001
    assert _loo_by_hand(LEANING) == "fragile: without seed 101 → inconclusive"
    assert _loo_by_hand(FIRM) == "decided with any one seed removed"
    for values in (LEANING, FIRM):
        row = _claim(values)
        assert row.verdict == "reproduced" and row.loo == _loo_by_hand(values)
        assert robustness.leave_one_out(values, Rule()) == _loo_by_hand(values)
    gate, passed = rules.control(LEANING, "g", "q", CTX)
    assert passed and gate.loo == "fragile: without seed 101 → failed"
    gate, _ = rules.control(FIRM, "g", "q", CTX)
    assert gate.loo == "passed with any one seed removed"
    # a threshold: the same seeds, judged against 0.002
    threshold = _claim(LEANING, Rule(needed=0.002))
    assert threshold.verdict == "reproduced" and threshold.loo == _loo_by_hand(LEANING, 0.002)


# --- D. timing --------------------------------------------------------------------------------------------------------


def test_median_seconds_is_the_median_of_the_timed_calls_after_the_warmup():
    sleeps = iter([0.0, 0.0, 0.01, 0.15, 0.04])  # 2 warm-up calls, then 3 timed ones: median 0.04, mean 0.067
    inside = []

    def work():
        start = time.perf_counter()
        time.sleep(next(sleeps))
        inside.append(time.perf_counter() - start)

    got = timing.median_seconds(work, repeats=3, warmup=2)
    assert len(inside) == 5  # every call made, none more
    assert sorted(inside[2:])[1] <= got < sorted(inside[2:])[1] + 0.01
    assert 0.04 <= got < 0.065
    assert 0 < timing.median_seconds(lambda: sum(range(1000)), repeats=1, warmup=0) < 0.1
    for repeats, warmup in ((0, 2), (3, -1)):
        with pytest.raises(ValueError, match="repeats must be"):
            timing.median_seconds(work, repeats=repeats, warmup=warmup)


# --- E. noise ---------------------------------------------------------------------------------------------------------


def test_noise_is_the_larger_of_the_seed_sd_and_the_binomial_standard_error():
    # binomial: √(0.5 · 0.5 / 100) = 0.05 > seed sd 0.01
    assert measures.noise(pd.Series([0.50, 0.51, 0.49]), 100) == pytest.approx(0.05, rel=1e-12)
    # seed sd: 0.02 / √2 = 0.014142 > √(0.81 · 0.19 / 10000) = 0.003923
    assert measures.noise(pd.Series([0.80, 0.82]), 10000) == pytest.approx(0.01 * math.sqrt(2), rel=1e-9)
    # one value: no seed sd, the binomial error alone: √(0.9 · 0.1 / 400) = 0.015
    assert measures.noise(pd.Series([0.9, float("nan")]), 400) == pytest.approx(0.015, rel=1e-12)
    assert measures.noise(pd.Series([0.9]), 0) == 0.0
    assert math.isnan(measures.noise(pd.Series([], dtype=float), 100))


# --- F. notebook 08's rows --------------------------------------------------------------------------------------------

#: A per-seed pattern with mean 0: arm ``a`` gets ``c_a`` times it, so a − b has mean exactly ``base_a − base_b`` and
#: sd ``|c_a − c_b|`` · sd(pattern) (sd(pattern) = √(10.5e-6 / 5)).
PATTERN = np.array([1.0, -1.0, 2.0, -2.0, 0.5, -0.5]) * 0.001
SEEDS = range(100, 106)
#: arm: (accuracy, coefficient of the pattern)
DEFAULT_ARMS = {
    "random": (0.40, 0),
    "magnitude": (0.70, 1),
    "flexrel": (0.72, 2),
    "taylor": (0.692, 14),
    "flexrel with taylor": (0.722, 15),
    "rotate: flexrel": (0.60, 3),
    "rotate: magnitude": (0.55, 4),
    "rotate: flexrel, matched relevance": (0.60, 5),
    "rotate relevance: flexrel on clean": (0.68, 6),
    "dynamic flexrel": (0.69, 7),
    "contribution": (0.68, 8),
}
SECOND_ARMS = {"delta=0": (0.60, 1), "delta=0.5": (0.66, 3), "delta=1": (0.55, 2), "random": (0.30, 0)}
#: notebook 08's Holm family on the default network: (first arm, second arm, verdict by hand before Holm)
FOUND = [
    ("rotate: flexrel", "rotate: magnitude", "reproduced"),  # +0.05, sd 0.0014
    ("rotate: flexrel, matched relevance", "rotate: flexrel", "no meaningful difference"),  # 0 ± 0.003 within ±0.01
    ("rotate relevance: flexrel on clean", "flexrel", "contradicted"),  # −0.04
    ("flexrel with taylor", "flexrel", "inconclusive"),  # +0.002, sd 0.019
    ("flexrel with taylor", "taylor", "reproduced"),  # +0.03
    ("dynamic flexrel", "flexrel", "contradicted"),  # −0.03
    ("contribution", "random", "reproduced"),  # +0.28 (not comparative)
    ("contribution", "magnitude", "contradicted"),  # −0.02, sd 0.010
]


def _arms(spec, deltas=False):
    rows = []
    for arm, (acc, c) in spec.items():
        for i, seed in enumerate(SEEDS):
            for factor in (0.3, 0.4):
                row = {"arm": arm, "seed": seed, "factor": factor, "params_removed": factor + 0.1}
                row["test_acc"] = acc + c * PATTERN[i]
                if deltas:
                    row["delta"] = float(arm.split("=")[1]) if arm.startswith("delta=") else math.nan
                rows.append(row)
    return pd.DataFrame(rows)


def _diff(spec, a, b):
    return (spec[a][0] - spec[b][0]) + (spec[a][1] - spec[b][1]) * PATTERN


def _verdict_by_hand(v, margin=0.01):
    low, high = _ci(v)
    if -margin < low and high < margin:
        return "no meaningful difference"
    return "reproduced" if low > 0 else "contradicted" if high < 0 else "inconclusive"


def _open(spec=DEFAULT_ARMS):
    p, b = profiles.load("flexrel", "default"), profiles.load("studies", "default")
    assert (b.shifts, b.second_model, b.prune_steps, p.delta) == (["rotate"], "lenet300", 3, 0.5)
    ctx = rules.Context("08 open questions", "Synthetic", "")
    return rules.table(study_claims.open_claims(_arms(spec), _arms(SECOND_ARMS, True), p, b, 0.01, ctx, ctx))


def test_notebook_08s_rows_against_hand_computed_differences_verdicts_and_holm():
    claims = _open()
    assert claims.paper.tolist() == ["control"] + [study_claims.PAPER] * 6 + ["control"] + [study_claims.PAPER] * 8
    assert claims.verdict[[0, 7]].tolist() == ["passed", "passed"]
    # the second architecture: δ = 0.5 against both ends at every level, the per-factor scan, FlexRel − magnitude
    vs0, vs1 = _diff(SECOND_ARMS, "delta=0.5", "delta=0"), _diff(SECOND_ARMS, "delta=0.5", "delta=1")
    sweep = claims.iloc[1:7]
    assert sweep.claim.iloc[0] == "second architecture (lenet300): the best δ is intermediate: δ = 0.5 beats both ends"
    assert sweep.estimate.tolist() == pytest.approx([0.06, 0.06, 0.11, 0.06, 0.06, 0.06], abs=1e-12)
    assert (sweep.verdict == "reproduced").all() and sweep.reason.iloc[0] == "reproduced at each of 2 levels"
    assert sweep.p.iloc[0] == pytest.approx(max(_t_p(vs0, 0.0), _t_p(vs1, 0.0)), rel=1e-6)
    assert sweep.p.iloc[0] == pytest.approx(_t_p(vs0, 0.0), rel=1e-6)  # the δ = 0 level's, the larger
    # the default network's family: estimates, verdicts and Holm by hand
    found = claims.iloc[8:]
    diffs = [_diff(DEFAULT_ARMS, a, b) for a, b, _ in FOUND]
    assert found.estimate.tolist() == pytest.approx(
        [DEFAULT_ARMS[a][0] - DEFAULT_ARMS[b][0] for a, b, _ in FOUND], abs=1e-12
    )
    assert [_verdict_by_hand(v) for v in diffs] == [v for *_, v in FOUND]
    own = [min(_t_p(v, 0.0), 2 * _tost_p(v, 0.01), 1.0) for v in diffs]
    adjusted = _holm(own)
    assert found.p.tolist() == pytest.approx(adjusted, rel=1e-6)
    assert found.verdict.tolist() == [v if q < 0.05 else "inconclusive" for (*_, v), q in zip(FOUND, adjusted)]
    assert found.verdict.tolist() == [v for *_, v in FOUND]  # each p small enough to survive Holm over 8
    assert found.comparative.tolist() == [True] * 6 + [False, True] and found.family.nunique() == 1


def test_notebook_08s_rows_fail_with_their_own_gate():
    claims = _open({**DEFAULT_ARMS, "random": (0.9, 0)})  # random beats every criterion: the gate fails
    assert claims.verdict[[0, 7]].tolist() == ["passed", "failed"]
    found = claims.iloc[8:]
    assert found.verdict.tolist() == ["inconclusive"] * 6 + ["contradicted", "inconclusive"]
    assert found.estimate.iloc[6] == pytest.approx(0.68 - 0.9)  # not comparative: judged, not gated
    assert (claims.verdict.iloc[1:7] == "reproduced").all()  # the second architecture has its own gate
