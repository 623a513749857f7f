"""The analysis plan (docs/analysis-plan.md): the committed file is the rendering of lib.verdicts.papers.ENDPOINTS and
the frozen pilot; the claim families mark exactly the plan's endpoints primary; its declarations of *underpowered by
design* agree with the power statsmodels computes at the pilot's per-seed sd."""

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.power import TTestPower

from lib.verdicts import papers, plan, robustness, rules
from tests.test_rules import _rank_frame, _retention, _times, _vae_frame

CTX = rules.Context("Fig. X", "FashionMNIST", "none")


def test_the_committed_plan_is_its_rendering():
    assert plan.PLAN.read_text() == plan.render(), "run `python -m lib.verdicts.plan --write` and commit the plan"


@pytest.fixture(scope="module")
def families() -> pd.DataFrame:
    """Every family of the papers on synthetic frames, with every dataset the plan names."""
    claims = papers.fig2_claims(_retention(0.05, flexrel=0.02), _retention(0.05), [0.99, 0.95, 0.9], 0.1, 0.004, CTX)
    claims += papers.fig3_claims(_times(0.8, 0.6), _times(0.04, 0.6), True, CTX)
    delta = pd.DataFrame(
        [
            {"seed": s, "factor": f, "delta": d, "params_removed": 0.6, "test_acc": a + 0.002 * (s % 3)}
            for s in range(8)
            for f in (0.3, 0.4)
            for d, a in ((0.0, 0.5), (0.5, 0.52), (0.8, 0.51), (1.0, 0.3))
        ]
    )
    claims += papers.fig4_claims(delta, 0.5, True, CTX)
    rank = pd.concat([_rank_frame(0.05), _rank_frame(0.05).assign(dataset="FashionMNIST")])
    claims += papers.rank_claims(rank, ["paper"], 10000, CTX)
    missing = {"CIFAR10": "no data", "CIFAR100": "no data"}
    claims += papers.table1_claims(rank, ["paper"], missing, 10000, CTX)
    claims += papers.vae_claims(_vae_frame([0.001, 0.004, -0.002]), CTX)
    return rules.table(claims)


def test_the_families_mark_exactly_the_plans_endpoints_primary(families):
    t = families
    primary = t[t.primary]
    assert Counter(zip(primary.endpoint, primary.dataset)) == Counter((e.id, e.dataset) for e in papers.ENDPOINTS)
    declared = {(e.id, e.dataset) for e in papers.ENDPOINTS if e.underpowered}
    assert {(r.endpoint, r.dataset) for r in primary.itertuples() if r.design == rules.UNDERPOWERED} == declared
    # a row that is not primary names an endpoint only if the plan shows it with one: Fig. 3's savings (the reach's
    # consequences) and the border's curve
    shown = t[~t.primary & (t.endpoint != "")]
    assert set(shown.endpoint) == {papers.REACH, papers.BORDER_ID}
    assert shown[shown.endpoint == papers.REACH].claim.str.contains("saved|less data|less learning time").all()
    assert shown[shown.endpoint == papers.BORDER_ID].claim.str.contains("on retention at").all()
    assert (t[t.endpoint == ""].design == "").all()


def test_the_stated_sizes_are_judged_against_the_plans_smallest_effects_of_interest(families):
    t = families
    reach = t[t.primary & (t.endpoint == papers.REACH)].iloc[0]
    relevance = t[t.primary & (t.endpoint == papers.RELEVANCE_REACH)].iloc[0]
    assert reach.sesoi == pytest.approx(max(papers.REACH_SESOI, 0.0)) and reach["size"] == pytest.approx(0.25)
    assert relevance.sesoi == pytest.approx(papers.RELEVANCE_REACH_SESOI) and relevance["size"] == pytest.approx(0.10)
    assert papers.REACH_SESOI == pytest.approx(0.195) and papers.RELEVANCE_REACH_SESOI == pytest.approx(0.05)
    every = t[t.primary & (t.endpoint == papers.EVERY)].iloc[0]
    retention = _retention(0.05, flexrel=0.02)
    unpruned = retention[retention.factor == 0].groupby("seed").test_acc.mean().mean()
    assert every.needed == -every.margin and every.margin == pytest.approx(max(papers.NO_LOSS * unpruned, 0.004))


def test_declarations_of_underpowered_by_design_agree_with_the_computed_power():
    design = plan.table()
    wrong = design[design.underpowered != design.computed_underpowered]
    assert wrong.empty, wrong[["id", "dataset", "power", "underpowered"]]
    runs = design[design.power.notna()]
    assert (runs.n80[runs.underpowered] > runs.n[runs.underpowered]).all()
    assert (runs.n80[~runs.underpowered] <= runs.n[~runs.underpowered]).all()


def test_power_is_statsmodels_one_sided_at_the_intervals_side():
    assert plan.power(0.8, 12) == pytest.approx(
        TTestPower().power(effect_size=0.8, nobs=12, alpha=0.025, alternative="larger")
    )
    n = plan.seeds_for(0.8)
    assert plan.power(0.8, int(n)) >= 0.8 > plan.power(0.8, int(n) - 1)
    assert plan.seeds_for(0.0) == np.inf and plan.power(0.5, 1) != plan.power(0.5, 1)  # NaN below two seeds
    mde = plan.detectable(2.0, 12)
    assert plan.power(mde / 2.0, 12) == pytest.approx(0.8, abs=1e-4)


def test_the_pilot_is_the_committed_six_five_and_three_seeds():
    per_seed, margins = plan.pilot()
    seeds = per_seed.groupby("endpoint").seed.nunique()
    assert seeds[papers.EVERY] == 6 and seeds[papers.TROUGHS] == 5 and seeds[papers.VAE] == 3
    gate = per_seed[(per_seed.endpoint == "gate") & (per_seed.level == "FlexRel retention")].value
    assert gate.mean() == pytest.approx(0.051, abs=5e-4) and len(gate) == 6  # issue 32: +5.1 [+1.0, +9.2] pts
    levels = per_seed[per_seed.endpoint == papers.EVERY].groupby("level").value.std()
    assert levels.max() == pytest.approx(0.134, abs=1e-3)  # issue 32: paired per-level sd up to 13.4 pts
    assert set(margins.endpoint) <= {e.id for e in papers.ENDPOINTS}


def test_every_row_of_the_families_can_be_judged_again_from_the_values_it_carries(families):
    """What split-half stands on: re-judging the families' own table on every seed gives back every verdict — the
    level rule of a claim at every level, the Holm families, the gates."""
    again = robustness.rejudge(families, lambda seeds: seeds)
    assert again.verdict.tolist() == families.verdict.tolist()
    judged = families.per_seed != ""
    assert judged.sum() > 0.9 * len(families) and (families[~judged].n == 0).all()
    assert again.p[judged].to_numpy() == pytest.approx(families.p[judged].to_numpy(), nan_ok=True)


def test_the_default_profile_is_the_confirmatory_design_fresh_seeds_and_per_seed_subsets():
    """The default profile runs the plan's n on seeds the pilot never ran, each seed drawing its own images."""
    from lib.params import profiles

    pilot = set(plan.pilot()[0].seed)
    sections = {"FlexRel": "flexrel", "Rank": "rank", "VAE": "vae"}
    for paper, name in sections.items():
        section = profiles.load(name, "default")
        assert len(section.seeds) >= papers.PLANNED_N[paper], (name, section.seeds)
        assert not pilot & set(section.seeds), f"{name} reruns pilot seeds {sorted(pilot & set(section.seeds))}"
        assert section.subsets == "per_seed", name
    assert profiles.load("studies", "default").seeds >= 6


def test_the_committed_study_2_addendum_is_its_rendering_and_declares_what_the_pilot_gives():
    """docs/analysis-plan-study2.md is the rendering of lib.verdicts.schedule_claims, section schedule and the
    committed pilot; its declarations of *underpowered by design* (the claims mark them) agree with the design
    computed on that pilot."""
    from lib.params import profiles
    from lib.publish import addendum
    from lib.verdicts import schedule_claims

    assert addendum.ADDENDUM.read_text() == addendum.render(), "run `python -m lib.publish.addendum --write`"
    s = profiles.load("schedule", "default")
    d = schedule_claims.design(schedule_claims.per_seed(addendum.pilot(), s.delta, s.factors, s.delta_factors))
    assert set(d[d.underpowered].endpoint) == set(schedule_claims.DECLARED_UNDERPOWERED)
    assert len(s.seeds) == schedule_claims.PLANNED_N and not set(s.seeds) & set(s.pilot_seeds)


def test_the_study_2_addendum_its_pilot_and_its_design_are_as_committed_before_the_data():
    """The addendum, the pilot it was sized on and the default profile's section ``schedule`` (seeds, levels, δ, the
    schedule) are today what they were at its commit, which preceded every confirmatory run of study 2."""
    import subprocess

    import yaml

    from lib.params.paths import ROOT
    from lib.verdicts import schedule_claims

    def then(path: str) -> str:
        show = ["git", "show", f"{schedule_claims.ADDENDUM_COMMIT}:{path}"]
        return subprocess.run(show, cwd=ROOT, capture_output=True, text=True, check=True).stdout

    for path in ("docs/analysis-plan-study2.md", "docs/pilot-schedule/trajectory.csv"):
        assert (ROOT / path).read_text() == then(path), path
    now = yaml.safe_load((ROOT / "params.yaml").read_text())["schedule"]
    assert now == yaml.safe_load(then("params.yaml"))["schedule"]
