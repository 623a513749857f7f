"""The verdict engine on small synthetic frames: every verdict, the gate, the intervals, the claim families."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from lib.core import stats
from lib.verdicts import rules

CTX = rules.Context("Fig. X", "Synthetic", "none")


def test_interval_is_student_t_with_ddof_1():
    v = [0.1, 0.3, 0.2, 0.4, 0.0]
    e = stats.interval(v)
    sd = np.std(v, ddof=1)
    half = sps.t.ppf(0.975, 4) * sd / math.sqrt(5)
    assert e.n == 5 and e.sd == pytest.approx(sd) and e.low == pytest.approx(0.2 - half) and e.high == pytest.approx(0.2 + half)
    one = stats.interval([0.5, float("nan")])
    assert one.n == 1 and math.isnan(one.low) and math.isnan(one.sd)
    with pytest.raises(ValueError, match="level"):
        stats.interval(v, level=95)


@pytest.mark.parametrize("values, side, threshold, verdict", [
    ([0.02, 0.03, 0.025, 0.035], "above", 0.0, "reproduced"),
    ([-0.02, -0.03, -0.025, -0.035], "above", 0.0, "contradicted"),
    ([0.05, -0.04, 0.01, -0.02], "above", 0.0, "inconclusive"),
    ([0.01, 0.012, 0.011], "below", 0.05, "reproduced"),
    ([0.40, 0.42, 0.41], "above", 0.35, "reproduced"),
    ([0.30, 0.32, 0.31], "above", 0.35, "contradicted"),
    ([-0.005, -0.004, -0.006], "above", -0.01, "reproduced"),  # non-inferiority within 1 point
    ([0.1], "above", 0.0, "inconclusive"),  # one seed: no interval
])
def test_every_verdict(values, side, threshold, verdict):
    c = rules.claim("P", "c", "v", "q", values, side, threshold, comparative=False, source="s", dataset="d")
    assert c.verdict == verdict and c.n == len(values)


def test_a_mean_beyond_the_threshold_is_not_enough():
    # mean +0.5 points, but the interval spans 0: the old "mean gap > 0" rule would have said reproduced
    c = rules.claim("P", "c", "v", "q", [0.03, -0.02, 0.01, 0.0], "above", comparative=True, source="s", dataset="d")
    assert c.estimate > 0 and c.verdict == "inconclusive"


def _retention(gap: float, noise: float = 0.005, seeds: int = 5) -> pd.DataFrame:
    """Retention curves where magnitude beats random by ``gap`` at factor 0.5 (paired per seed)."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(seeds):
        base = 0.9 + rng.normal(0, 0.02)
        for factor, removed in ((0.0, 0.0), (0.5, 0.7)):
            for method in ("magnitude", "relevance", "flexrel", "random"):
                draws = range(3) if method == "random" else [0]
                for draw in draws:
                    acc = base if factor == 0 else base - 0.3 + (gap if method != "random" else 0) + rng.normal(0, noise)
                    rows.append({"seed": seed, "method": method, "factor": factor, "draw": draw, "params_removed": removed,
                                 "test_acc": acc})
    return pd.DataFrame(rows)


def test_control_passes_only_when_a_criterion_beats_random():
    assert rules.control(_retention(0.05), ["magnitude", "relevance"]).passed
    failed = rules.control(_retention(0.0), ["magnitude", "relevance"])
    assert not failed.passed and failed.params_removed == pytest.approx(0.7)
    passed = rules.control(_retention(0.05), ["magnitude", "relevance", "flexrel"])
    assert passed.candidates == 3 and passed.corrected_low < passed.interval.low


def test_gate_makes_comparative_claims_inconclusive():
    kw = dict(source="s", dataset="d")
    strong = rules.claim("P", "compares", "v", "q", [0.1, 0.11, 0.12], "above", comparative=True, **kw)
    own = rules.claim("P", "absolute", "v", "q", [0.1, 0.11, 0.12], "above", comparative=False, **kw)
    gated = rules.gate([strong, own], passed=False)
    assert gated[0].verdict == "inconclusive" and gated[0].reason == rules.CANNOT_DISCRIMINATE
    assert gated[1].verdict == "reproduced"
    assert rules.gate([strong], passed=True)[0].verdict == "reproduced"


def test_fig2_claims_are_gated_by_the_control():
    failed = rules.table(rules.fig2_claims(_retention(0.0), _retention(0.0), [0.9], CTX))
    assert failed.iloc[0].verdict == "failed"
    comparative = failed[failed.comparative]
    assert len(comparative) > 0 and (comparative.verdict == "inconclusive").all()
    passed = rules.table(rules.fig2_claims(_retention(0.05), _retention(0.05), [0.9], CTX))
    assert passed.iloc[0].verdict == "passed"
    assert set(passed.verdict) <= {"passed", *rules.VERDICTS}


def test_crossing_interpolates_the_first_fall_and_ignores_later_rises():
    curve = pd.DataFrame({"params_removed": [0.0, 0.2, 0.4, 0.6], "test_acc": [0.9, 0.85, 0.7, 0.88]})
    assert stats.crossing(curve, 0.8) == pytest.approx(0.2 + (0.85 - 0.8) / (0.85 - 0.7) * 0.2)
    assert stats.crossing(curve, 0.5) == 0.6  # never falls below: the largest level
    assert stats.crossing(curve, 0.95) == 0.0


def test_reach_uses_each_seeds_own_unpruned_accuracy():
    f = pd.DataFrame({"seed": [0, 0, 1, 1], "method": "m", "factor": [0.0, 0.5] * 2, "params_removed": [0.0, 0.7] * 2,
                      "test_acc": [0.9, 0.85, 0.8, 0.78]})
    r = rules.reach(f, 0.95).set_index("seed").params_removed
    assert r[0] == pytest.approx(0.7 * (0.9 - 0.855) / (0.9 - 0.85)) and r[1] == 0.7


def test_fig4_widens_the_interval_for_choosing_the_best_delta():
    rows = []
    for seed in range(5):
        for delta, acc in ((0.0, 0.5), (0.5, 0.52 + 0.002 * seed), (0.8, 0.51), (1.0, 0.3)):
            rows.append({"seed": seed, "factor": 0.5, "delta": delta, "params_removed": 0.7, "test_acc": acc})
    c = rules.fig4_claims(pd.DataFrame(rows), True, CTX)[0]
    plain = stats.interval([0.02 + 0.002 * s for s in range(5)])
    assert c.verdict == "reproduced" and "best interior δ = 0.5" in c.claim
    assert c.low < plain.low  # Bonferroni over the 2 interior δ


def _rank_frame(gap: float) -> pd.DataFrame:
    """Two seeds, one pruning round: rank's trough is ``gap`` above random's."""
    rows = []
    for seed in range(3):
        for method, reading in (("rank", "paper"), ("random", "-"), ("worst", "paper"), ("none", "-")):
            trough = 0.8 + (gap if method == "rank" else 0) + 0.001 * seed
            pruned = method != "none"
            rows += [{"dataset": "MNIST", "method": method, "reading": reading, "seed": seed, "stage": "trained", "epoch": 1,
                      "round": 0, "removed": 0.0, "train_acc": 0.95, "test_acc": 0.95}]
            if pruned:
                rows.append({"dataset": "MNIST", "method": method, "reading": reading, "seed": seed, "stage": "pruned", "epoch": 1,
                             "round": 1, "removed": 0.7, "train_acc": float("nan"), "test_acc": trough})
            rows.append({"dataset": "MNIST", "method": method, "reading": reading, "seed": seed, "stage": "trained", "epoch": 2,
                         "round": 1 if pruned else 0, "removed": 0.7 if pruned else 0.0, "train_acc": trough + 0.1,
                         "test_acc": 0.95 - (0.002 if pruned else 0) + 0.001 * seed})
    return pd.DataFrame(rows)


def test_troughs_pair_the_pruned_row_with_the_next_epochs_training_accuracy():
    t = rules.troughs(_rank_frame(0.05))
    rank = t[t.method == "rank"].set_index("seed")
    assert rank.test_acc[0] == pytest.approx(0.85) and rank.train_acc[0] == pytest.approx(0.95)


def test_rank_claims_control_gate_and_non_inferiority():
    ok = rules.table(rules.rank_claims(_rank_frame(0.05), ["paper"], CTX))
    assert ok.iloc[0].verdict == "passed"
    trough = ok[ok.quantity.str.contains("rank − random test accuracy in the troughs")]
    assert trough.verdict.tolist() == ["reproduced"]
    recovery = ok[ok.claim.str.contains("≈ 70 %") & ok.quantity.str.contains("test")]
    assert recovery.verdict.tolist() == ["reproduced"]  # 0.2 points below unpruned: within the 1-point margin
    failed = rules.table(rules.rank_claims(_rank_frame(0.0), ["paper"], CTX))
    assert failed.iloc[0].verdict == "failed"
    final = failed[failed.claim.str.contains("after the last recovery")]
    assert len(final) and (final.verdict == "inconclusive").all()


def test_table1_uses_the_recovery_rule_and_reports_missing_data():
    frame = _rank_frame(0.05)
    claims = rules.table1_claims(frame, {"MNIST": (0.80, 0.68), "CIFAR10": (0.91, 0.41)}, ["paper"],
                                  {"CIFAR10": "not run: needs CIFAR10"}, CTX)
    by = {c.dataset: c for c in claims}
    assert by["CIFAR10"].verdict == "not run" and by["MNIST"].verdict == "reproduced" and by["MNIST"].threshold == -0.01


def _vae_frame(change: list[float]) -> pd.DataFrame:
    rows = []
    for seed, c in enumerate(change):
        for kind, loss, params in (("unpruned", 100.0, 1000), ("pruned", 100.0 * (1 + c), 600), ("scratch", 101.0, 600)):
            rows += [{"kind": kind, "seed": seed, "epoch": e, "removed": 0.34 if kind == "pruned" else 0.0, "params": params,
                      "test_loss": loss + (3 - e)} for e in (1, 2, 3)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("change, verdict", [([0.001, 0.004, -0.002], "reproduced"), ([0.06, 0.05, 0.07], "contradicted"),
                                             ([0.0, 0.05, 0.02], "inconclusive")])
def test_vae_claim_is_the_paired_final_loss_change(change, verdict):
    (c,) = rules.vae_claims(_vae_frame(change), CTX)
    assert c.verdict == verdict and c.n == 3 and c.estimate == pytest.approx(np.mean(change))
    assert "34% removed" in c.claim and "1,000 → 600 parameters" in c.claim


def test_stability_marks_flipped_verdicts_unstable():
    kw = dict(comparative=False, source="s", dataset="d")
    a = [rules.claim("P", "x", "v", "q", [0.1, 0.11, 0.12], "above", **kw),
         rules.claim("P", "y", "v", "q", [0.1, 0.11, 0.12], "above", **kw)]
    b = [a[0], rules.claim("P", "y", "v", "q", [0.1, -0.11, 0.02], "above", **kw)]
    s = rules.stability(rules.table(a), rules.table(b)).set_index("claim")
    assert s.combined["x"] == "reproduced" and s.combined["y"] == "inconclusive" and s.reason["y"] == rules.UNSTABLE


def test_markdown_shows_interval_rule_and_verdict():
    c = rules.claim("P", "x", "v", "q", [0.02, 0.03, 0.025], "above", comparative=False, source="s", dataset="d")
    text = rules.markdown(rules.table([c]))
    assert "+2.5 pts [" in text and "CI above +0.0 pts" in text and "**reproduced**" in text
