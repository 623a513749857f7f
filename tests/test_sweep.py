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
    """Default profile: 01 lists 5 base networks, their 5 scores and 230 pruning runs; 03 adds the δ sweep's
    5 seeds × 2 factors × 7 δ minus the runs 01 already has (δ = 0, 0.5, 1: magnitude, FlexRel at δ, relevance)."""
    planned = sizing.runs_of("default")
    counts = planned.groupby(["stage", "kind"]).size().to_dict()
    assert counts == {("01_flexrel_accuracy_vs_pruning", "flexrel-pre"): 5, ("01_flexrel_accuracy_vs_pruning", "flexrel-scores"): 5,
                      ("01_flexrel_accuracy_vs_pruning", "flexrel-retention"): 180,
                      ("01_flexrel_accuracy_vs_pruning", "flexrel-recovery"): 50,
                      ("03_flexrel_delta_sweep", "flexrel-retention"): 5 * 2 * (7 - 3),
                      ("04_rank_random_vs_rank", "rank-run"): 2 * 5 * 6,
                      ("05_rank_table1", "rank-run"): 2 * 5 * 6, ("06_rank_vae", "vae-run"): 9}
    assert (planned.macs > 0).all()
