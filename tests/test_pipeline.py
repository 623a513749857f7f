"""End to end: a copy of the repository at `profile: smoke` (the `smoke_copy` fixture of conftest.py) runs
`dvc repro`, makes every declared output, and a second `dvc repro` reruns nothing."""

from __future__ import annotations

import sys

import yaml

from lib.verdicts import rules
from tests.conftest import declared_outputs, run


def test_smoke_repro_makes_every_declared_output(smoke_copy):
    repo, _, seconds, log = smoke_copy
    missing = [o for o in declared_outputs(repo / "dvc.yaml") if not (repo / o).exists()]
    assert not missing, f"declared but not produced: {missing}\n{log[-3000:]}"
    print(f"the smoke pipeline took {seconds:.0f} s")  # its budget is measured by `make bench`, not asserted here


def test_second_repro_reruns_nothing(smoke_copy):
    repo, env, _, _ = smoke_copy
    log = run(["dvc", "repro"], repo, env)
    assert "Running stage" not in log, log
    status = run(["dvc", "status"], repo, env)
    assert "up to date" in status, status


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


def test_study_2_stores_the_trajectory_of_every_run(smoke_copy):
    """Notebook 10 at smoke size: scores after 20 % of the budget (one epoch of five), every run trained the other four,
    one row per seed, method, level, δ, draw and post-pruning epoch, and its claims judged."""
    import pandas as pd

    repo = smoke_copy[0]
    t = pd.read_csv(repo / "results/10_flexrel_schedule/trajectory.csv")
    key = ["seed", "method", "factor", "delta", "draw", "post_epoch"]
    assert not t.duplicated(key).any() and set(t.post_epoch) == {0, 1, 2, 3, 4}
    assert (t.groupby(key[:-1], dropna=False).post_epoch.count() == 5).all()
    assert {"unpruned", "magnitude", "relevance", "flexrel", "random"} <= set(t.method)
    claims = pd.read_csv(repo / "results/10_flexrel_schedule/claims.csv")
    assert claims.primary.sum() == 6 and claims.margin.dropna().isin([0.01]).all()


def test_report_has_a_row_for_every_claim(smoke_copy):
    import pandas as pd

    repo = smoke_copy[0]
    text = (repo / "REPRODUCTION.md").read_text()
    for claim in (
        "How to read a verdict",
        "Gates: can each regime discriminate?",
        "## Primary claims",
        "FlexRel beats magnitude",
        "relevance alone substantially worse",
        "border of the flat region",
        "removes more parameters than magnitude",
        "relevance computation time almost negligible",
        "substantially less learning time",
        "bandwidth saved",
        "the best δ is intermediate",
        "near-perfect recovery",
        "rank-based beats random",
        "Table 1: MNIST",
        "Table 1: CIFAR10",
        "Table 1: CIFAR100",
        "≈ 40 % of neurons",
        "VAE",
        "Table I writes",
        "Adam with learning rate 0.05",
        "code vs its text",
        "Signed contribution ratios",
        "Determinism",
        "## Beyond the papers",
        "does composite=EpsilonGammaBox change FlexRel − magnitude?",
        "FlexRel beats taylor",
        "second architecture (lenet300)",
        "rotate: FlexRel beats magnitude on shifted test images",
        "dynamic relevance",
        "papers crossed",
        "sign-flip 95 % CI",
        "MDE",
        "tested against",
    ):
        assert claim in text, claim
    claims = pd.read_csv(repo / "results/99_reproduction_report/claims.csv")
    assert set(claims.verdict) <= {*rules.VERDICTS, *rules.GATE_VERDICTS}
    judged = claims[(claims.paper != "control") & ~claims.verdict.isin(["not run", "not testable in this regime"])]
    assert (judged.n >= 1).all() and (claims[claims.verdict == "not run"].n == 0).all(), claims[
        ["claim", "n", "verdict"]
    ]
    primary = claims[claims.primary]
    assert primary.paper.isin(["FlexRel", "Rank"]).all() and len(primary) >= 10
    assert primary.groupby(["paper", "dataset"]).claim.apply(lambda c: c.is_unique).all()  # one endpoint per claim
    assert (claims.paper == "control").sum() >= 2


def test_dvc_status_names_exactly_the_stages_an_edit_affects(own_smoke_copy):
    import json

    repo, env, _, _ = own_smoke_copy
    changed = lambda: set(json.loads(run(["dvc", "status", "--json"], repo, env) or "{}"))  # noqa: E731
    params, vae = repo / "params.yaml", repo / "lib" / "protocols" / "train_time_vae.py"
    originals = {path: path.read_text() for path in (params, vae)}
    try:
        raw = yaml.safe_load(originals[params])
        raw["profiles"]["paper"]["flexrel"]["epochs_pre"] = (
            99  # another profile: only the report's sizing table reads it
        )
        params.write_text(yaml.safe_dump(raw, sort_keys=False))
        assert changed() == {"99_reproduction_report"}
        raw["profiles"]["smoke"]["rank"]["seeds"] = [0, 1]  # the active profile's rank section
        params.write_text(yaml.safe_dump(raw, sort_keys=False))
        assert changed() == {
            "04_rank_random_vs_rank",
            "05_rank_table1",
            "08_flexrel_open_questions",
            "99_reproduction_report",
        }
        params.write_text(originals[params])
        vae.write_text(originals[vae] + "\n# edited\n")  # a module notebook 06 runs (and the sizing table counts with)
        assert changed() == {"06_rank_vae", "99_reproduction_report"}
    finally:
        for path, text in originals.items():
            path.write_text(text)
    assert changed() == set()


def test_the_sizing_table_lists_the_runs_the_notebooks_stored(smoke_copy):
    """lib.scale.sizing enumerates a profile's runs without running them: for the smoke copy, per kind, exactly the
    entries its pipeline stored (the CIFAR rows of stage 05 are listed but not here, so not stored)."""
    import json

    import pandas as pd

    repo, env, _, _ = smoke_copy
    code = (
        "import json; from lib.store import runs; from lib.scale import sizing; s = sizing.planned('smoke'); "
        "s = s[s.stage != '05_rank_table1'];"
        "print(json.dumps({'planned': s.kind.value_counts().to_dict(),"
        " 'stored': {k: sum(1 for _, h, _ in runs.records() if h['kind'] == k) for k in s.kind.unique()}}))"
    )
    found = json.loads(run([sys.executable, "-c", code], repo, env).strip().splitlines()[-1])
    assert found["planned"] == found["stored"], found
    sizes = pd.read_csv(repo / "results/99_reproduction_report/sizing.csv")
    smoke = sizes[sizes.profile == "smoke"]
    assert (smoke.measured_s > 0).all() and (sizes.gpu_hours > 0).all(), sizes
    assert "### What each profile costs" in (repo / "REPRODUCTION.md").read_text()


READS = """
import json
import matplotlib
matplotlib.use("Agg")
from lib.protocols import base_networks, stages
from lib.scale import jobs, sweep  # noqa: F401 - sweep registers every stage's run list
from lib.store import runs
jobs.compute = lambda *a, **k: None  # it only fills the store, full here: its lookups check, they do not read
out = {}
for stage in stages.STAGES:
    nb = json.load(open(f"notebooks/{stage}.ipynb"))
    base_networks._LOADED.clear()  # a stage's first read of a base network goes through the store
    scope = {"display": lambda *a, **k: None}
    with runs.reads() as found:
        for cell in (c for c in nb["cells"] if c["cell_type"] == "code"):
            exec(compile("".join(cell["source"]), stage, "exec"), scope)
    listed = {r.identity() for r in stages.every(stages.runs_of(stage, "smoke"))}
    read = {r.identity() for r in found}
    out[stage] = {"listed": len(listed), "not read": len(listed - read), "read, not listed": len(read - listed)}
print("READS", json.dumps(out))
"""


def test_every_notebook_reads_exactly_the_runs_its_stage_lists(own_smoke_copy):
    """Each notebook's code, executed on the smoke copy's store, reads (:func:`lib.store.runs.reads`) exactly the runs
    :func:`lib.protocols.stages.runs_of` lists for its stage: the sweep and the sizing table consume the same list."""
    import json

    repo, env, _, _ = own_smoke_copy
    out = run([sys.executable, "-c", READS], repo, env)  # stdout and stderr: the notebooks print and warn too
    found = json.loads(next(line for line in out.splitlines() if line.startswith("READS "))[len("READS ") :])
    assert len(found) == 9, found
    for stage, counts in found.items():
        assert counts["not read"] == counts["read, not listed"] == 0, (stage, counts)
        assert counts["listed"] > 0 or stage == "05_rank_table1", (stage, counts)  # 05: CIFAR is absent in smoke


def test_a_docstring_or_comment_edit_in_every_lib_module_recomputes_no_stored_run(own_smoke_copy):
    """Every lib module gets a comment and an edited docstring: DVC sees every stage's code change, yet every stored
    run's recorded code is still today's (no key moved: nothing would be recomputed), and a stage DVC reruns
    assembles its results from the store — no run computed, no number moved. (The whole `dvc repro` after such
    an edit is timed in the closing notes, not here: it reruns every notebook, minutes of kernel start-up.)"""
    repo, env, _, _ = own_smoke_copy
    store = {p: p.stat().st_mtime_ns for p in (repo / "cache" / "runs").glob("*/*")}
    table = repo / "results" / "03_flexrel_delta_sweep" / "03_flexrel_delta_sweep.csv"
    before = table.read_bytes()
    for path in (repo / "lib").rglob("*.py"):
        text = path.read_text()
        path.write_text("# a comment\n" + text.replace('"""', '"""Edited: ', 1))
    status = run(["dvc", "status"], repo, env)
    assert all(f"{stage}:" in status for stage in yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]), status
    stale = run([sys.executable, "-m", "lib.scale.store", "prune", "--stale", "--dry-run"], repo, env)
    assert f"0 of {len(store)} entries would be removed" in stale, stale
    run(["dvc", "repro", "--single-item", "03_flexrel_delta_sweep"], repo, env)
    assert {p: p.stat().st_mtime_ns for p in (repo / "cache" / "runs").glob("*/*")} == store, (
        "a stored run was computed"
    )
    assert table.read_bytes() == before


def test_another_profile_runs_end_to_end_with_one_command_the_powered_one_at_smoke_size(own_smoke_copy):
    """`make reproduce PROFILE=powered` is one command: `dvc exp run -S profile=powered`. Run on the smoke copy with
    the powered block at smoke's sizes (its own seeds, cut to smoke's counts), the whole pipeline runs at that profile
    and the report and the results name it and its seeds."""
    import copy
    import subprocess

    import pandas as pd

    repo, env, _, _ = own_smoke_copy
    made = subprocess.run(
        ["make", "--no-print-directory", "-n", "reproduce", "PROFILE=powered"], cwd=repo, capture_output=True, text=True
    )
    command = made.stdout.strip().splitlines()[-1]
    assert command == "dvc exp run -S profile=powered", made.stdout
    params = yaml.safe_load((repo / "params.yaml").read_text())
    smoke, powered = params["profiles"]["smoke"], params["profiles"]["powered"]
    assert len(powered["flexrel"]["seeds"]) >= 24 and len(powered["rank"]["seeds"]) >= 16
    small = copy.deepcopy(smoke)
    for section in ("flexrel", "rank", "vae", "schedule"):
        small[section]["seeds"] = powered[section]["seeds"][: len(smoke[section]["seeds"])]
    params["profiles"]["powered"] = small
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "commit", "-qam", "powered at smoke size"], repo, env)
    run(command.split(), repo, env)
    assert "profile **powered**" in (repo / "REPRODUCTION.md").read_text()
    bases = pd.read_csv(repo / "results/01_flexrel_accuracy_vs_pruning/pretraining.csv")
    assert sorted(bases.seed.unique()) == small["flexrel"]["seeds"]
    vae = pd.read_csv(repo / "results/06_rank_vae/06_rank_vae.csv")
    assert sorted(vae.seed.unique()) == small["vae"]["seeds"]
    schedule = pd.read_csv(repo / "results/10_flexrel_schedule/trajectory.csv")
    assert sorted(schedule.seed.unique()) == small["schedule"]["seeds"]
