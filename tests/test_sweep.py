"""lib.sweep's choices before any job starts, and lib.sizing's count of a profile's runs."""

from __future__ import annotations

import pytest

from lib import data, sizing, sweep


def test_no_wait_is_refused_where_the_jobs_would_stop_with_the_command(capsys):
    for executor in ("local", "here"):
        with pytest.raises(SystemExit) as err:
            sweep.main(["01_flexrel_accuracy_vs_pruning", "--executor", executor, "--no-wait"])
        assert err.value.code == 2 and "--no-wait needs --executor slurm" in capsys.readouterr().err


def test_a_stage_whose_data_is_absent_stops_before_listing_its_runs():
    def absent(name: str) -> str:
        return f"{name} not found; fetch it with: {data.FETCH_COMMAND}"

    for stage in ("01_flexrel_accuracy_vs_pruning", "03_flexrel_delta_sweep", "04_rank_random_vs_rank", "06_rank_vae"):
        with pytest.raises(data.DatasetMissing, match="fetch it with"):
            sweep.STAGES[stage]("smoke", absent)
    assert sweep.STAGES["05_rank_table1"]("smoke", absent) == [[]]  # its notebook reports absent datasets as not run


def test_sizing_counts_every_listed_run_once():
    """Default profile: 01 lists 5 base networks, the scores of 7 criteria per seed and 230 pruning runs plus the
    4 baselines' retention; 03 adds the δ sweep's 5 seeds × 2 factors × 7 δ minus the runs 01 already has (δ = 0,
    0.5, 1: magnitude, FlexRel at δ, relevance); 07 adds each variant's runs, not those it shares with 01 (its
    reference arms) nor scores whose key a variant leaves unchanged (scope, normalisation, partner); 08 likewise."""
    planned = sizing.runs_of("default")
    counts = planned.groupby(["stage", "kind"]).size().to_dict()
    assert counts == {("01_flexrel_accuracy_vs_pruning", "flexrel-pre"): 5, ("01_flexrel_accuracy_vs_pruning", "flexrel-scores"): 5 * 7,
                      ("01_flexrel_accuracy_vs_pruning", "flexrel-retention"): 180 + 4 * 6 * 5,
                      ("01_flexrel_accuracy_vs_pruning", "flexrel-recovery"): 50,
                      ("03_flexrel_delta_sweep", "flexrel-retention"): 5 * 2 * (7 - 3),
                      ("04_rank_random_vs_rank", "rank-run"): 2 * 5 * 6,
                      ("05_rank_table1", "rank-run"): 2 * 5 * 6, ("06_rank_vae", "vae-run"): 9,
                      # 5 variants change the relevance (and so the magnitude entry's key): 2 criteria × 5 seeds each
                      ("07_flexrel_sensitivity", "flexrel-scores"): 5 * 2 * 5,
                      # 9 variants' FlexRel and the global-scope magnitude, 2 levels × 5 seeds
                      ("07_flexrel_sensitivity", "flexrel-retention"): 10 * 2 * 5,
                      ("08_flexrel_open_questions", "flexrel-pre-lenet300"): 5,
                      ("08_flexrel_open_questions", "flexrel-scores"): 2 * 2 * 5,
                      # LeNet: 7 δ and 2 random draws; VGG: 4 rotation arms, Taylor partner, dynamic; at 2 levels × 5 seeds
                      ("08_flexrel_open_questions", "flexrel-retention"): (9 + 6) * 2 * 5,
                      ("08_flexrel_open_questions", "rank-run"): 5}
    assert (planned.macs > 0).all()
