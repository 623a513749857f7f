"""lib.protocols.studies: notebook 07's arms and rows, on synthetic retention frames (no training)."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from lib.params import profiles
from lib.protocols import studies
from lib.verdicts import rules, study_claims
from lib.params.schema import ParamsError

CTX = rules.Context("07 sensitivity", "FashionMNIST", "")


def _frame(means: dict[str, float], seeds=range(5), factors=(0.3, 0.4)) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [{"arm": arm, "seed": s, "factor": f, "test_acc": mean + 0.002 * rng.standard_normal(), "params_removed": f}
            for arm, mean in means.items() for s in seeds for f in factors]
    return pd.DataFrame(rows)


def test_sensitivity_arms_reuse_notebook_01s_runs_and_list_each_variant_once():
    p, b = profiles.load("flexrel", "default"), profiles.load("studies", "default")
    arms = studies.sensitivity_arms(p, b)
    labels = [a.label for a in arms]
    assert labels[:3] == ["flexrel", "magnitude", "random"] and len(labels) == len(set(labels))
    assert {a.label: a.p for a in arms}["flexrel"] == p  # the reference arm is notebook 01's FlexRel
    assert "scope=global · baseline" in labels and "magnitude=bn_folded · baseline" in labels
    assert studies.baseline_of(p, "composite=EpsilonGammaBox") == "magnitude"  # relevance-only change: 01's magnitude
    with pytest.raises(ParamsError, match="unseen"):
        studies.variant(p.replace(train_subset=None), "images=unseen")


def test_a_variant_whose_verdict_differs_from_the_references_is_marked():
    p = profiles.load("flexrel", "default").replace(baselines=["taylor"])
    b = profiles.load("studies", "default").replace(variants=["composite=EpsilonGammaBox", "target=predicted"])
    frame = _frame({"flexrel": 0.80, "magnitude": 0.70, "random": 0.30, "taylor": 0.75,
                    "composite=EpsilonGammaBox": 0.60, "target=predicted": 0.79})
    claims = rules.table(study_claims.sensitivity_claims(frame, p, b, CTX))
    assert list(claims.verdict) == ["passed", "reproduced", "contradicted", "reproduced", "reproduced"]
    assert "verdict flips (reference: reproduced)" in claims.claim[2] and "as the reference's" in claims.claim[3]
    assert claims.estimate[2] == pytest.approx(-0.10, abs=0.01) and (claims.paper[1:] == study_claims.PAPER).all()


def test_rows_are_gated_on_the_regimes_own_control():
    p = profiles.load("flexrel", "default").replace(baselines=[])
    b = profiles.load("studies", "default").replace(variants=["target=predicted"])
    frame = _frame({"flexrel": 0.80, "magnitude": 0.70, "random": 0.81, "target=predicted": 0.60})
    claims = rules.table(study_claims.sensitivity_claims(frame, p, b, CTX))
    assert claims.verdict[0] == "failed" and (claims.verdict[1:] == "inconclusive").all()
    assert (claims.reason[1:] == rules.CANNOT_DISCRIMINATE).all()


def test_a_row_scanned_among_many_is_judged_on_the_widened_interval():
    values = pd.Series([0.02, 0.03, 0.01, 0.04, 0.025])  # plain 95 % interval above 0, Bonferroni over 13 rows not
    alone, scanned = study_claims.row("x", "q", values, CTX), study_claims.row("x", "q", values, CTX, family=13)
    assert alone.verdict == "reproduced" and scanned.verdict == "inconclusive" and "13 rows scanned" in scanned.quantity
    assert scanned.estimate == alone.estimate and scanned.low < 0 < alone.low
