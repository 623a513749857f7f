"""End to end: a copy of the repository at `profile: smoke` (the `smoke_copy` fixture of conftest.py) runs
`dvc repro`, makes every declared output, and a second `dvc repro` reruns nothing."""

from __future__ import annotations

import os
import shutil
import sys

import pytest
import yaml

from tests.conftest import declared_outputs, run


@pytest.mark.slow
def test_smoke_repro_makes_every_declared_output(smoke_copy):
    repo, _, seconds, log = smoke_copy
    missing = [o for o in declared_outputs(repo / "dvc.yaml") if not (repo / o).exists()]
    assert not missing, f"declared but not produced: {missing}\n{log[-3000:]}"
    assert seconds < 240, f"the smoke pipeline took {seconds:.0f} s (budget 240 s)"


@pytest.mark.slow
def test_second_repro_reruns_nothing(smoke_copy):
    repo, env, _, _ = smoke_copy
    log = run(["dvc", "repro"], repo, env)
    assert "Running stage" not in log, log
    status = run(["dvc", "status"], repo, env)
    assert "up to date" in status, status


@pytest.mark.slow
def test_fig4_delta_extremes_report_fig2_numbers(smoke_copy):
    import pandas as pd

    repo = smoke_copy[0]
    f01 = pd.read_csv(repo / "results/01_flexrel_accuracy_vs_pruning/retention.csv")
    f03 = pd.read_csv(repo / "results/03_flexrel_delta_sweep/03_flexrel_delta_sweep.csv")
    key = ["factor", "seed"]
    for delta, method in ((0.0, "magnitude"), (1.0, "relevance")):
        sweep = f03[f03.delta == delta].set_index(key).test_acc.sort_index()
        fig2 = f01[f01.method == method].set_index(key).test_acc.sort_index()
        assert len(sweep) > 0
        pd.testing.assert_series_equal(sweep, fig2.loc[sweep.index], check_names=False)


@pytest.mark.slow
def test_report_has_a_row_for_every_claim(smoke_copy):
    import pandas as pd

    repo = smoke_copy[0]
    text = (repo / "REPRODUCTION.md").read_text()
    for claim in ("How to read a verdict", "Controls: can each regime discriminate?", "FlexRel beats magnitude",
                  "relevance alone substantially worse", "border of the flat region", "removes more parameters than magnitude",
                  "relevance computation time almost negligible", "substantially less learning time", "bandwidth saved",
                  "the best δ is intermediate", "near-perfect recovery", "rank-based beats random", "Table 1: MNIST",
                  "Table 1: CIFAR10", "Table 1: CIFAR100", "≈ 40 % of neurons", "VAE", "Table I writes", "Adam with learning rate 0.05",
                  "code vs its text", "Signed contribution ratios", "Determinism", "## Beyond the papers",
                  "FlexRel beats magnitude with composite=EpsilonGammaBox", "FlexRel beats taylor", "second architecture (lenet300)",
                  "rotate: FlexRel beats magnitude on shifted test images", "dynamic relevance", "papers crossed"):
        assert claim in text, claim
    claims = pd.read_csv(repo / "results/99_reproduction_report/claims.csv")
    assert set(claims.verdict) <= {"reproduced", "contradicted", "inconclusive", "not run", "passed", "failed"}
    assert claims[claims.paper != "control"].n.ge(0).all() and (claims.paper == "control").sum() >= 2


@pytest.mark.slow
def test_dvc_status_names_exactly_the_stages_an_edit_affects(smoke_copy):
    import json

    repo, env, _, _ = smoke_copy
    changed = lambda: set(json.loads(run(["dvc", "status", "--json"], repo, env) or "{}"))  # noqa: E731
    params, vae = repo / "params.yaml", repo / "lib" / "vae.py"
    originals = {path: path.read_text() for path in (params, vae)}
    try:
        raw = yaml.safe_load(originals[params])
        raw["profiles"]["paper"]["flexrel"]["epochs_pre"] = 99  # another profile: only the report's sizing table reads it
        params.write_text(yaml.safe_dump(raw, sort_keys=False))
        assert changed() == {"99_reproduction_report"}
        raw["profiles"]["smoke"]["rank"]["seeds"] = [0, 1]  # the active profile's rank section
        params.write_text(yaml.safe_dump(raw, sort_keys=False))
        assert changed() == {"04_rank_random_vs_rank", "05_rank_table1", "08_flexrel_open_questions", "99_reproduction_report"}
        params.write_text(originals[params])
        vae.write_text(originals[vae] + "\n# edited\n")  # a module notebook 06 runs (and the sizing table counts with)
        assert changed() == {"06_rank_vae", "99_reproduction_report"}
    finally:
        for path, text in originals.items():
            path.write_text(text)
    assert changed() == set()


@pytest.mark.slow
def test_the_sizing_table_lists_the_runs_the_notebooks_stored(smoke_copy):
    """lib.sizing enumerates a profile's runs without running them: for the smoke copy, per kind, exactly the
    entries its pipeline stored (the CIFAR rows of stage 05 are listed but not here, so not stored)."""
    import json

    import pandas as pd

    repo, env, _, _ = smoke_copy
    code = ("import json; from lib import runs, sizing; s = sizing.runs_of('smoke'); s = s[s.stage != '05_rank_table1'];"
            "print(json.dumps({'planned': s.kind.value_counts().to_dict(),"
            " 'stored': {k: sum(1 for _, h, _ in runs.records() if h['kind'] == k) for k in s.kind.unique()}}))")
    found = json.loads(run([sys.executable, "-c", code], repo, env).strip().splitlines()[-1])
    assert found["planned"] == found["stored"], found
    sizes = pd.read_csv(repo / "results/99_reproduction_report/sizing.csv")
    smoke = sizes[sizes.profile == "smoke"]
    assert (smoke.measured_s > 0).all() and (sizes.gpu_hours > 0).all(), sizes
    assert "### What each profile costs" in (repo / "REPRODUCTION.md").read_text()


@pytest.mark.slow
def test_sweep_jobs_fill_the_store_and_the_notebook_assembles_the_serial_numbers(smoke_copy):
    """Stage 01's runs as two submitit jobs (local executor: separate processes), then the notebook: it
    computes nothing and its tables equal the serial run's (same thread count, so bit for bit)."""
    import pandas as pd
    import torch

    repo, env, _, _ = smoke_copy
    out = repo / "results/01_flexrel_accuracy_vs_pruning"
    serial = {name: pd.read_csv(out / name) for name in ("pretraining.csv", "retention.csv", "recovery.csv")}
    store = repo / "cache/runs"
    for kind in ("flexrel-pre", "flexrel-scores", "flexrel-retention", "flexrel-recovery"):
        shutil.rmtree(store / kind)
    sweep = [sys.executable, "-m", "lib.sweep", "01_flexrel_accuracy_vs_pruning"]
    log = run([*sweep, "--workers", "2", "--threads", str(torch.get_num_threads())], repo, env)
    phases = [line for line in log.splitlines() if line.strip().endswith(" s") and "job(s), processes" in line]
    assert len(phases) == 3 and all(len(line.split("processes [")[1].split("]")[0].split(",")) == 2 for line in phases), log
    assert all(line.endswith("0 missing") for line in run([*sweep, "--dry-run"], repo, env).splitlines()), "runs left"
    entries = sorted(store.glob("*/*"))
    run(["dvc", "repro", "-f", "-s", "01_flexrel_accuracy_vs_pruning"], repo, env)
    assert sorted(store.glob("*/*")) == entries, "the notebook computed runs the sweep should have"
    timing = ["seconds", "relevance_seconds"]
    for name, frame in serial.items():
        swept = pd.read_csv(out / name)
        pd.testing.assert_frame_equal(swept.drop(columns=timing, errors="ignore"), frame.drop(columns=timing, errors="ignore"))


@pytest.mark.slow
def test_slurm_no_wait_queues_each_phase_after_the_one_before(smoke_copy, tmp_path):
    """Slurm stood in for by an `sbatch` that records each job script and answers as Slurm does: every phase of
    the default profile's stage 01 (nothing of it is stored in the smoke copy) is queued at once, each array
    waiting for the one before to succeed, and the command returns without waiting."""
    repo, env, _, _ = smoke_copy
    bin_, scripts = tmp_path / "bin", tmp_path / "scripts"
    bin_.mkdir(), scripts.mkdir()
    (bin_ / "sbatch").write_text('#!/bin/sh\nn=$((100 + $(ls "$SCRIPTS" | wc -l)))\ncp "$1" "$SCRIPTS/$n.sh"\n'
                                 'echo "Submitted batch job $n"\n')
    (bin_ / "srun").write_text("#!/bin/sh\nexit 1\n")
    for tool in ("sbatch", "srun"):
        (bin_ / tool).chmod(0o755)
    env = {**env, "PATH": f"{bin_}{os.pathsep}{env['PATH']}", "SCRIPTS": str(scripts)}
    log = run([sys.executable, "-m", "lib.sweep", "01_flexrel_accuracy_vs_pruning", "--profile", "default", "--executor",
               "slurm", "--no-wait", "--workers", "4", "--slurm-partition", "cpu"], repo, env)
    jobs = [(scripts / f"{n}.sh").read_text() for n in (100, 101, 102)]
    assert not (scripts / "103.sh").exists() and "queued, not waiting" in log, log
    assert "--dependency" not in jobs[0]
    assert "#SBATCH --dependency=afterok:100" in jobs[1] and "#SBATCH --dependency=afterok:101" in jobs[2]
    assert all("#SBATCH --partition=cpu" in job and "#SBATCH --array=0-3%4" in job for job in jobs)
