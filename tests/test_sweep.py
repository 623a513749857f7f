"""lib.scale.sweep's choices before any job starts, lib.scale.sizing's count of a profile's runs, and (slow, on a copy
of conftest's `smoke_copy` of their own) a stage's runs as jobs."""

from __future__ import annotations

import os
import shutil
import sys

import pytest
import yaml

from lib.core import data
from lib.scale import jobs, sizing, sweep
from tests.conftest import run


def test_no_wait_is_refused_where_the_jobs_would_stop_with_the_command(capsys):
    for executor in ("local", "here"):
        with pytest.raises(SystemExit) as err:
            sweep.main(["01_flexrel_accuracy_vs_pruning", "--executor", executor, "--no-wait"])
        assert err.value.code == 2 and "--no-wait needs --executor slurm" in capsys.readouterr().err


def test_a_machine_runs_one_job_per_gpu_else_one_one_thread_job_per_core(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(jobs.torch.cuda, "device_count", lambda: 0)
    assert jobs.local_workers() == (4, 1, 0) and jobs.local_workers(2) == (2, 2, 0)
    monkeypatch.setattr(jobs.torch.cuda, "device_count", lambda: 2)
    assert jobs.local_workers() == (2, 2, 2)


def test_compute_stores_every_listed_run_and_what_it_reads_then_finds_nothing_left(tmp_path, monkeypatch, capsys):
    """One worker: in this process, phase by phase (a VAE's pruned run before its scratch run); run again, it computes
    nothing and prints nothing."""
    from lib.params import profiles
    from lib.protocols import stages, train_time_vae
    from lib.store import runs
    from tests.conftest import write_mnist_like

    write_mnist_like(tmp_path / "data", "FashionMNIST", n_train=64, n_test=32)
    monkeypatch.setattr(data, "DATA_ROOT", tmp_path / "data")
    monkeypatch.setattr(runs, "RUNS", tmp_path / "runs")
    p = profiles.load("vae", "smoke").replace(train_subset=64, test_subset=32, seeds=[0])
    listed = [r for r in train_time_vae.planned(p) if r.variant == "scratch"]
    jobs.compute(listed, workers=1)
    printed = capsys.readouterr().out
    assert "phase 1/2: 1 of 1 runs" in printed and "phase 2/2: 1 of 1 runs" in printed
    assert not jobs.missing(stages.with_inputs(listed))
    jobs.compute({"runs": listed}, workers=1)
    assert capsys.readouterr().out == ""


def test_a_stage_whose_data_is_absent_stops_before_listing_its_runs():
    def absent(name: str) -> str:
        return f"{name} not found; fetch it with: {data.FETCH_COMMAND}"

    for stage in ("01_flexrel_accuracy_vs_pruning", "03_flexrel_delta_sweep", "04_rank_random_vs_rank", "06_rank_vae"):
        with pytest.raises(data.DatasetMissing, match="fetch it with"):
            sweep.phases(stage, "smoke", absent)
    assert sweep.phases("05_rank_table1", "smoke", absent) == []  # its notebook reports absent datasets as not run


def test_sizing_counts_every_listed_run_once():
    """Default profile (F = 12 FlexRel seeds, R = 10 rank seeds, 6 VAE seeds; the studies on the first S = 6): 01
    lists F base networks, the scores of 7 criteria per seed and the pruning runs plus the 4 baselines' retention; 03
    adds the δ sweep's F seeds × 2 factors × 7 δ minus the runs 01 already has (δ = 0, 0.5, 1: magnitude, FlexRel at
    δ, relevance); 07 adds each variant's runs, not those it shares with 01 (its reference arms) nor scores whose key
    a variant leaves unchanged (scope, normalisation, partner); 08 likewise; 09 its own ResNet-18's."""
    f, r, s = 12, 10, 6
    planned = sizing.planned("default")
    counts = planned.groupby(["stage", "kind"]).size().to_dict()
    assert counts == {
        ("01_flexrel_accuracy_vs_pruning", "flexrel-pre"): f,
        ("01_flexrel_accuracy_vs_pruning", "flexrel-scores"): f * 7,
        # 4 criteria and 6 random draws, then 4 baselines, at 5 levels
        ("01_flexrel_accuracy_vs_pruning", "flexrel-retention"): f * (4 + 6) * 5 + f * 4 * 5,
        ("01_flexrel_accuracy_vs_pruning", "flexrel-recovery"): f * 5 * 2,
        ("03_flexrel_delta_sweep", "flexrel-retention"): f * 2 * (7 - 3),
        ("04_rank_random_vs_rank", "rank-run"): 2 * 6 * r,
        ("05_rank_table1", "rank-run"): 2 * 6 * r,
        ("06_rank_vae", "vae-run"): 3 * 6,
        # study 2: its own seeds (12), each a network scored, the unpruned run and 4 methods at 3 levels
        ("10_flexrel_schedule", "schedule-pre"): 12,
        ("10_flexrel_schedule", "schedule-run"): 12 * (1 + 4 * 3),
        # 5 variants change the relevance (and so the magnitude entry's key): 2 criteria × S seeds each
        ("07_flexrel_sensitivity", "flexrel-scores"): s * 2 * 5,
        # 9 variants' FlexRel and the global-scope magnitude, 2 levels × S seeds
        ("07_flexrel_sensitivity", "flexrel-retention"): 10 * 2 * s,
        ("08_flexrel_open_questions", "flexrel-pre-lenet300"): s,
        ("08_flexrel_open_questions", "flexrel-scores"): 2 * 2 * s,
        # LeNet: 7 δ and 6 random draws; VGG: 4 rotation arms, Taylor partner, dynamic; at 2 levels × S seeds
        ("08_flexrel_open_questions", "flexrel-retention"): (13 + 6) * 2 * s,
        # the rank schedule scored by relevance, on the first S rank seeds (the others are notebook 04's runs)
        ("08_flexrel_open_questions", "rank-run"): s,
        # ResNet-18: 6 criteria per seed; 3 δ (its ends runs of their own), 2 random draws, magnitude,
        # relevance and 4 baselines at 2 levels; 4 methods recovered
        ("09_flexrel_resnet", "flexrel-pre-resnet18"): s,
        ("09_flexrel_resnet", "flexrel-scores"): s * 6,
        ("09_flexrel_resnet", "flexrel-retention"): (3 + 2 + 2 + 4) * 2 * s,
        ("09_flexrel_resnet", "flexrel-recovery"): 4 * s,
    }
    assert (planned.macs > 0).all()


def test_sweep_jobs_recompute_every_stored_run_of_the_stage_bit_for_bit(own_smoke_copy):
    """Stage 01's runs as two submitit jobs per phase (local executor: separate processes), from an empty store: they
    store every run the stage lists, under the keys the notebook's own jobs stored them, with the same results bit
    for bit, wall times aside (the same thread count as the notebook's jobs) — so the notebook, rerun, computes
    nothing and reads its numbers back."""
    import json

    import torch

    from lib.store import runs

    repo, env, _, _ = own_smoke_copy
    store = repo / "cache/runs"
    kinds = ("flexrel-pre", "flexrel-scores", "flexrel-retention", "flexrel-recovery")

    def untimed(value):  # a result without the wall times it records
        if isinstance(value, dict):
            return {k: untimed(v) for k, v in value.items() if k not in ("seconds", "relevance_seconds")}
        return [untimed(v) for v in value] if isinstance(value, list) else value

    def results() -> dict:
        out = {}
        for p, _, error in runs.records(store):
            assert error is None, (p, error)
            if p.parent.name in kinds:
                stored = (
                    json.loads(p.read_text())["result"]
                    if p.suffix == ".json"
                    else torch.load(p, weights_only=True)["state"]
                )
                out[p.relative_to(store)] = (
                    untimed(stored) if p.suffix == ".json" else {k: v.numpy().tobytes() for k, v in stored.items()}
                )
        return out

    serial = results()
    for kind in kinds:
        shutil.rmtree(store / kind)
    sweep = [sys.executable, "-m", "lib.scale.sweep", "01_flexrel_accuracy_vs_pruning"]
    log = run([*sweep, "--workers", "2", "--threads", str(jobs.local_workers()[1])], repo, env)  # the notebook's
    phases = [line for line in log.splitlines() if line.strip().endswith(" s") and "job(s), processes" in line]
    assert len(phases) == 3 and all(
        len(line.split("processes [")[1].split("]")[0].split(",")) == 2 for line in phases
    ), log
    swept = results()  # the kinds are shared with stages 03, 07 and 08: the serial store holds their runs too
    assert swept and swept == {k: serial[k] for k in swept}
    listed = [
        int(line.split(": ")[1].split(" runs")[0])
        for line in log.splitlines()
        if " runs, " in line and " missing" in line
    ]
    assert len(listed) == 3 and len(swept) == sum(listed), log  # every run the stage lists, one entry each


def test_slurm_no_wait_queues_each_phase_after_the_one_before(own_smoke_copy, tmp_path):
    """Slurm stood in for by an `sbatch` that records each job script and answers as Slurm does: every phase of
    stage 01 for four seeds the smoke copy has not run (nothing of them is stored; on LeNet-300-100) is queued at once,
    each array waiting for the one before to succeed, and the command returns without waiting."""
    repo, env, _, _ = own_smoke_copy
    bin_, scripts = tmp_path / "bin", tmp_path / "scripts"
    bin_.mkdir(), scripts.mkdir()
    (bin_ / "sbatch").write_text(
        '#!/bin/sh\nn=$((100 + $(ls "$SCRIPTS" | wc -l)))\ncp "$1" "$SCRIPTS/$n.sh"\necho "Submitted batch job $n"\n'
    )
    (bin_ / "srun").write_text("#!/bin/sh\nexit 1\n")
    for tool in ("sbatch", "srun"):
        (bin_ / tool).chmod(0o755)
    env = {**env, "PATH": f"{bin_}{os.pathsep}{env['PATH']}", "SCRIPTS": str(scripts)}
    params = repo / "params.yaml"
    original = params.read_text()
    raw = yaml.safe_load(original)
    # four seeds not run, on LeNet-300-100: only the job scripts matter here, and a VGG takes ~1 s to build
    # (torchvision's builder initialises a 25088×4096 classifier before lib.core.models replaces it)
    raw["profiles"]["smoke"]["flexrel"].update(
        seeds=[2, 3, 4, 5],
        model="lenet300",
        prune_linear=True,
        baselines=[b for b in raw["flexrel"]["baselines"] if b != "bn_scale"],
    )
    params.write_text(yaml.safe_dump(raw, sort_keys=False))
    try:
        log = run(
            [
                sys.executable,
                "-m",
                "lib.scale.sweep",
                "01_flexrel_accuracy_vs_pruning",
                "--profile",
                "smoke",
                "--executor",
                "slurm",
                "--no-wait",
                "--workers",
                "4",
                "--slurm-partition",
                "cpu",
            ],
            repo,
            env,
        )
    finally:
        params.write_text(original)
    jobs = [(scripts / f"{n}.sh").read_text() for n in (100, 101, 102)]
    assert not (scripts / "103.sh").exists() and "queued, not waiting" in log, log
    assert "--dependency" not in jobs[0]
    assert "#SBATCH --dependency=afterok:100" in jobs[1] and "#SBATCH --dependency=afterok:101" in jobs[2]
    assert all("#SBATCH --partition=cpu" in job and "#SBATCH --array=0-3%4" in job for job in jobs)
