"""lib.protocols.studies: notebook 07's arms and rows, on synthetic retention frames (no training)."""

import numpy as np
import pandas as pd
import pytest

from lib.core import stats
from lib.params import profiles
from lib.params.schema import ParamsError
from lib.params.studies import baseline_label, residual
from lib.protocols import flexrel, studies
from lib.verdicts import rules, study_claims

CTX = rules.Context("07 sensitivity", "FashionMNIST", "")


def _frame(means: dict[str, float], seeds=range(5), factors=(0.3, 0.4)) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [
        {"arm": arm, "seed": s, "factor": f, "test_acc": mean + 0.002 * rng.standard_normal(), "params_removed": f}
        for arm, mean in means.items()
        for s in seeds
        for f in factors
    ]
    return pd.DataFrame(rows)


def test_sensitivity_arms_reuse_notebook_01s_runs_and_list_each_variant_once():
    p, b = profiles.load("flexrel", "default"), profiles.load("studies", "default")
    arms = studies.sensitivity_arms(p, b)
    labels = [a.label for a in arms]
    assert labels[:3] == ["flexrel", "magnitude", "random"] and len(labels) == len(set(labels))
    assert {a.label: a.p for a in arms}["flexrel"] == p  # the reference arm is notebook 01's FlexRel
    assert "scope=global · baseline" in labels and "magnitude=bn_folded · baseline" in labels
    assert baseline_label(p, "composite=EpsilonGammaBox") == "magnitude"  # relevance-only change: 01's magnitude
    assert baseline_label(p, "scope=global") == "scope=global · baseline"
    with pytest.raises(ParamsError, match="unseen"):
        studies.variant(p.replace(train_subset=None), "images=unseen")


def test_a_variant_is_judged_by_how_much_it_changes_flexrel_minus_magnitude():
    p = profiles.load("flexrel", "default").replace(baselines=["taylor"])
    b = profiles.load("studies", "default").replace(variants=["composite=EpsilonGammaBox", "target=predicted"])
    frame = _frame(
        {
            "flexrel": 0.80,
            "magnitude": 0.70,
            "random": 0.30,
            "taylor": 0.75,
            "composite=EpsilonGammaBox": 0.60,
            "target=predicted": 0.80,
        }
    )
    claims = rules.table(study_claims.sensitivity_claims(frame, p, b, 0.01, CTX))
    assert list(claims.verdict) == ["passed", "reproduced", "contradicted", "no meaningful difference", "reproduced"]
    assert claims.claim[2].startswith("does composite=EpsilonGammaBox change FlexRel − magnitude?")
    assert claims.estimate[2] == pytest.approx(-0.20, abs=0.01) and (claims.paper[1:] == study_claims.PAPER).all()
    assert not claims.primary.any()


def test_rows_are_gated_on_the_regimes_own_control():
    p = profiles.load("flexrel", "default").replace(baselines=[])
    b = profiles.load("studies", "default").replace(variants=["target=predicted"])
    frame = _frame({"flexrel": 0.80, "magnitude": 0.70, "random": 0.81, "target=predicted": 0.60})
    claims = rules.table(study_claims.sensitivity_claims(frame, p, b, 0.01, CTX))
    assert claims.verdict[0] == "failed" and (claims.verdict[1:] == "inconclusive").all()
    assert claims.reason[1:].str.startswith(rules.CANNOT_DISCRIMINATE).all()


def test_a_row_scanned_among_many_is_holm_corrected():
    p = profiles.load("flexrel", "default").replace(baselines=["taylor", "lamp", "bn_scale", "contribution"])
    b = profiles.load("studies", "default").replace(variants=[])
    rng = np.random.default_rng(1)
    rows = [
        {
            "arm": arm,
            "seed": s,
            "factor": 0.3,
            "params_removed": 0.5,
            "test_acc": {"flexrel": 0.8, "magnitude": 0.7, "random": 0.3}.get(arm, 0.79)
            + (0.012 * rng.standard_normal() if arm == "flexrel" else 0.0),
        }
        for arm in ["flexrel", "magnitude", "random", *p.baselines]
        for s in range(6)
    ]
    claims = rules.table(study_claims.sensitivity_claims(pd.DataFrame(rows), p, b, 0.001, CTX))
    criteria = claims[claims.claim.str.contains("today's criterion")]
    plain = [
        rules.claim(
            "x",
            "x",
            "x",
            "x",
            study_claims.difference(pd.DataFrame(rows), "flexrel", m),
            rules.Rule(),
            CTX,
            primary=False,
            comparative=True,
        ).p
        for m in p.baselines
    ]
    assert list(criteria.p) == pytest.approx(list(stats.holm(plain)))


def test_the_crossed_rows_are_gated_by_notebook_04s_gate_and_never_test_it():
    from lib.params.rank import CROSSED_READING as RELEVANCE

    rows = []
    for seed in range(8):
        for method, reading, trough in (("rank", RELEVANCE, 0.86), ("rank", "paper", 0.84), ("random", "-", 0.80)):
            trough += 0.002 * (seed % 3)
            rows += [
                {
                    "dataset": "MNIST",
                    "method": method,
                    "reading": reading,
                    "seed": seed,
                    "stage": "pruned",
                    "epoch": 1,
                    "round": 1,
                    "removed": 0.5,
                    "test_acc": trough,
                    "train_acc": float("nan"),
                },
                {
                    "dataset": "MNIST",
                    "method": method,
                    "reading": reading,
                    "seed": seed,
                    "stage": "trained",
                    "epoch": 2,
                    "round": 1,
                    "removed": 0.5,
                    "test_acc": trough + 0.1,
                    "train_acc": trough + 0.1,
                },
            ]
    frame = pd.DataFrame(rows)
    open_ = rules.table(study_claims.crossed_claims(frame, 0.005, True, CTX))
    assert len(open_) == 4 and "control" not in set(open_.paper) and (open_.verdict == "reproduced").all()
    shut = rules.table(study_claims.crossed_claims(frame, 0.005, False, CTX))
    assert list(shut.verdict) == [
        "reproduced",
        "reproduced",
        "inconclusive",
        "inconclusive",
    ]  # vs random: not comparative


def test_the_residual_network_is_section_flexrel_on_a_resnet_and_its_rows_have_their_own_gates():
    p, b = profiles.load("flexrel", "default"), profiles.load("studies", "default")
    net = residual(p, b)
    assert (net.model, net.width, net.train_subset, net.epochs_pre) == (
        "resnet18",
        b.residual_width,
        b.residual_train_subset,
        b.residual_epochs,
    )
    back = net.replace(
        model=p.model,
        width=p.width,
        train_subset=p.train_subset,
        epochs_pre=p.epochs_pre,
        post_subset=p.post_subset,
        random_draws=p.random_draws,
        deltas=p.deltas,
        methods=p.methods,
        recovery_factors=p.recovery_factors,
        prune_linear=p.prune_linear,
    )
    assert back == p  # nothing else differs from notebook 01's protocol
    with pytest.raises(ParamsError, match="residual_deltas"):
        residual(p, b.replace(residual_deltas=[0.0, 0.3, 1.0]))
    # a residual group's score is a mean over layers: FlexRel at δ = 0 or 1 normalises first, so it is its own run
    assert flexrel.canonical(net, "flexrel", 0.0) == ("flexrel", 0.0) and flexrel.canonical(p, "flexrel", 0.0) == (
        "magnitude",
        None,
    )
    labels = [a.label for a in studies.residual_arms(net)]
    assert labels == [*(f"delta={d:g}" for d in b.residual_deltas), "random", "magnitude", "relevance", *p.baselines]
    means = {
        "delta=0": 0.70,
        "delta=0.25": 0.74,
        "delta=0.5": 0.76,
        "delta=0.75": 0.75,
        "delta=1": 0.72,
        "random": 0.40,
        "magnitude": 0.70,
        "relevance": 0.60,
        "taylor": 0.70,
        "lamp": 0.70,
        "bn_scale": 0.70,
        "contribution": 0.70,
    }
    frame = _frame(means, seeds=range(6)).assign(delta=lambda f: f.arm.str.extract(r"delta=(.*)")[0].astype(float))
    rec = _frame(
        {"magnitude": 0.80, "relevance": 0.80, "flexrel": 0.80, "random": 0.85}, seeds=range(6), factors=(0.4,)
    )
    rec = pd.concat(
        [rec, _frame({m: 0.9 for m in ("magnitude", "relevance", "flexrel", "random")}, seeds=range(6), factors=(0.0,))]
    )
    rec = rec.assign(method=rec.arm, epoch=1).drop(columns="arm")
    claims = rules.table(study_claims.residual_claims(frame, rec, net, 0.005, 0.1, CTX))
    gates = claims[claims.paper == "control"]
    assert list(gates.verdict) == ["passed", "failed"]  # retention's gate passes, recovery's (random best) fails
    assert claims.claim[1].endswith("δ = 0.5 beats both ends") and claims.verdict[1] == "reproduced"
    worse = claims[claims.claim.str.endswith("relevance alone is worse than magnitude")]
    assert worse.estimate.iloc[0] == pytest.approx(0.10, abs=0.01) and worse.verdict.iloc[0] == "reproduced"
    after = claims[claims.claim.str.contains("after recovery")]
    assert len(after) == 2 and (after.verdict == "inconclusive").all()
    assert not claims.primary.any() and (claims.paper[claims.paper != "control"] == study_claims.PAPER).all()
