"""Study 2's schedule (lib.protocols.schedule) at smoke size on synthetic data: scores taken after the first share of
the budget, the pruned network trained for the rest with the learning rate carried on, one trajectory row per
post-pruning epoch; its parameters refused before any work when they cannot make that schedule."""

import pandas as pd
import pytest
import torch
from torch import nn

from lib.core import data, train
from lib.params import profiles
from lib.params.schedule import ScheduleParams, scheduled
from lib.params.schema import ParamsError
from lib.protocols import base_networks, schedule
from lib.store import runs
from lib.verdicts import rules, schedule_claims
from tests.conftest import write_mnist_like


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    write_mnist_like(tmp_path / "data", "FashionMNIST", n_train=192, n_test=64)
    monkeypatch.setattr(data, "DATA_ROOT", tmp_path / "data")
    monkeypatch.setattr(runs, "RUNS", tmp_path / "runs")
    base_networks._LOADED.clear()
    yield tmp_path


def _section(**kw) -> ScheduleParams:
    return profiles.load("schedule", "smoke").replace(train_subset=128, **kw)


def _params(**kw):
    f = profiles.load("flexrel", "smoke").replace(test_subset=64, relevance_images=16)
    return scheduled(f, _section(**kw))


def test_the_budget_splits_at_the_pre_fraction():
    p = _params(budget=10, pre_fraction=0.2)
    assert (p.epochs_pre, p.epochs_post, p.budget, p.lr_post) == (2, 8, 10, p.lr)
    with pytest.raises(ParamsError, match="rounds to 0 epochs before pruning"):
        _section(budget=2, pre_fraction=0.2)
    with pytest.raises(ParamsError, match="share"):
        _section(seeds=[0, 1], pilot_seeds=[1])
    with pytest.raises(ParamsError, match="'random'"):
        _section(methods=["magnitude", "flexrel"])
    with pytest.raises(ParamsError, match="lr_across"):
        _section(lr_across="sometimes")


def test_continue_carries_the_learning_rate_on_across_the_pruning_point():
    p = _params(lr_across="continue")
    early, late = schedule.early_recipe(p), schedule.late_recipe(p)
    assert (early.epochs, early.span, early.skip) == (1, 5, 0) and (late.epochs, late.span, late.skip) == (4, 5, 1)
    one = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    whole = train.make_scheduler("onecycle", one, 50)
    for _ in range(10):
        one.step()
        whole.step()
    other = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    assert train.make_scheduler("onecycle", other, 50, start=10).get_last_lr() == whole.get_last_lr()
    restart = _params(lr_across="restart")
    assert (schedule.early_recipe(restart).span, schedule.late_recipe(restart).span) == (None, None)
    assert schedule.late_recipe(restart).skip == 0


def test_a_run_scores_after_the_first_share_and_trains_the_rest(sandbox):
    p = _params()
    todo = [schedule.Scheduled.of(p, 0, m, f, d, 0) for m, f, d, _ in schedule.plan(p) if m in ("unpruned", "flexrel")]
    early = todo[0].base()
    assert isinstance(early, schedule.Early) and early.kind == "schedule-pre"
    net, pre = early.result()
    assert [r["epoch"] for r in pre] == [1]  # 20 % of a budget of 5: the network every criterion scores
    t = schedule.frame(todo)
    per_run = t.groupby(["method", "factor", "delta"], dropna=False).post_epoch.apply(list)
    assert all(epochs == [0, 1, 2, 3, 4] for epochs in per_run)  # right after pruning, then the other 80 %
    pruned = t[t.method == "flexrel"]
    assert (pruned.params_removed > 0.5).all() and (pruned[pruned.delta == 0.5].relevance_seconds > 0).all()
    assert (t.groupby(["method", "delta"], dropna=False).elapsed.is_monotonic_increasing).all()
    # the same runs again are read back, not trained again
    assert schedule.frame(todo).drop(columns="pre_seconds").equals(t.drop(columns="pre_seconds"))


def _trajectory(gap: float, seeds: int = 8) -> pd.DataFrame:
    """A synthetic trajectory: FlexRel ``gap`` above magnitude at every level, relevance below, random lowest."""
    rows = []
    for s in range(seeds):
        arms = [("unpruned", 0.0, None, 0.90)]
        for f, drop in ((0.3, 0.0), (0.5, 0.02), (0.7, 0.08)):
            arms += [
                ("magnitude", f, None, 0.90 - drop),
                ("relevance", f, None, 0.88 - 2 * drop),
                ("flexrel", f, 0.5, 0.90 - drop + gap),
                ("random", f, None, 0.85 - 2 * drop),
            ]
        for m, f, d, acc in arms:
            noise = 0.002 * ((7 * s + 3 * len(m) + int(10 * f)) % 5)  # seed and arm alike: paired spreads differ
            for e in range(5):
                rows.append(
                    {
                        "seed": s, "method": m, "factor": f, "delta": d, "draw": 0, "post_epoch": e,
                        "test_acc": acc + noise - 0.01 * (4 - e), "params_removed": 1 - (1 - f) ** 2,
                        "relevance_seconds": 0.5 if m in ("flexrel", "relevance") else 0.0,
                        "seconds": 10.0 * (e > 0), "elapsed": 20.0 + 10.0 * e,
                    }
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_the_claims_judge_the_last_epoch_with_the_plans_fixed_numbers():
    ctx = rules.Context("Study 2", "FashionMNIST", "none")
    claims = rules.table(schedule_claims.claims(_trajectory(0.03), 0.5, [0.3, 0.5, 0.7], [0.5, 0.7], ctx))
    primary = claims[claims.primary].set_index("endpoint")
    assert set(primary.index) == {e.id for e in schedule_claims.ENDPOINTS}
    assert primary.loc[schedule_claims.EVERY].verdict == "reproduced"
    assert primary.loc[schedule_claims.EVERY].margin == schedule_claims.ACCURACY_MARGIN  # never re-floored
    assert primary.loc[schedule_claims.FIG4].verdict == "reproduced"
    assert primary.loc[schedule_claims.NEGLIGIBLE].verdict == "reproduced"  # 0.5 s of 60 s
    assert (claims[claims.paper == "control"].gate == "").all()  # random guards nothing
    worse = rules.table(schedule_claims.claims(_trajectory(-0.05), 0.5, [0.3, 0.5, 0.7], [0.5, 0.7], ctx))
    assert worse[worse.primary].set_index("endpoint").loc[schedule_claims.EVERY].verdict == "contradicted"
    same = rules.table(schedule_claims.claims(_trajectory(0.0), 0.5, [0.3, 0.5, 0.7], [0.5, 0.7], ctx))
    assert same[same.primary].set_index("endpoint").loc[schedule_claims.FIG4].verdict != "reproduced"


def test_the_design_needs_rerun_power_at_the_upper_limit_of_the_pilots_sd():
    values = schedule_claims.per_seed(_trajectory(0.03, seeds=6), 0.5, [0.3, 0.5, 0.7], [0.5, 0.7])
    d = schedule_claims.design(values, 12).set_index("endpoint")
    assert (d.sd_upper >= d.pilot_sd).all()
    assert ((d.power >= schedule_claims.RUN_POWER) == ~d.underpowered).all()  # NaN power: cannot be sized
    assert d.rerun_agreement.dropna().between(0, 1).all()
    assert d.loc[schedule_claims.NEGLIGIBLE].underpowered  # the synthetic share has no spread: nothing to size on
    # every level must hold at once: the joint power is below the weakest level's
    every = values[values.endpoint == schedule_claims.EVERY]
    e = schedule_claims.BY_ID[schedule_claims.EVERY]
    single = [schedule_claims._joint_power(e, g, 12) for _, g in every.groupby("level")]
    assert d.loc[schedule_claims.EVERY].power <= min(single)
    assert schedule_claims.sd_upper(1.0, 6) == pytest.approx((5 / 1.6103) ** 0.5, rel=1e-3)
