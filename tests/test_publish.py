"""Publishing the smoke copy's results (conftest's `smoke_copy`): executed notebooks free of warnings, the site
built and read in headless Chromium, a DVC remote that a fresh clone pulls everything from, the dvc exp
workflow in that clone, and a pruned network exported and reloaded with plain PyTorch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lib.core import data
from lib.publish import export, report, site
from tests.conftest import run

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]


def _json(cmd: list[str], cwd: Path, env: dict[str, str]):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout)


def test_executed_notebooks_carry_no_warning_and_progress_bars_are_widgets(smoke_copy):
    repo = smoke_copy[0]
    widgets = 0
    for stage in site.stages(repo):
        nb = json.loads(site.executed(stage, repo).read_text())
        stderr = [
            "".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []) if o.get("name") == "stderr"
        ]
        assert not stderr, f"{stage}: {stderr[:3]}"
        views = [
            o
            for c in nb["cells"]
            for o in c.get("outputs", [])
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        ]
        state = nb["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
        assert all(v["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] in state for v in views), stage
        widgets += len(views)
    assert widgets > 0, "no progress bar rendered as a widget (is ipywidgets installed in the kernel?)"


def test_the_site_builds_offline_and_every_page_reads_in_a_browser(smoke_copy, tmp_path):
    repo, env, _, _ = smoke_copy
    run([sys.executable, "-m", "lib.publish.site", "build", "--site", str(tmp_path / "site")], repo, env)
    index = (tmp_path / "site/index.html").read_text()
    assert (
        "unpkg.com" not in index
        and "THEBE" not in index
        and "Provenance" in (tmp_path / "site/notebooks/01_flexrel_accuracy_vs_pruning.html").read_text()
    )
    why = site.browser_missing()
    if why and os.environ.get("REQUIRE_BROWSER"):  # set by .ci/run: CI never passes without this check
        pytest.fail(f"REQUIRE_BROWSER is set and the browser check cannot run: {why}")
    if why:
        pytest.skip(f"no browser here: {why}")
    shots = Path(os.environ.get("SITE_SCREENSHOTS", tmp_path / "screenshots"))
    found = site.check(tmp_path / "site", shots, repo)  # raises, listing every failure
    with_figure = [f for f in found.values() if "figure" in f["anchors"]]
    assert (
        found["index.html"]["claim_rows"] > 50 and len(with_figure) >= 7 and all(f["images"] > 0 for f in with_figure)
    )
    assert len(list(shots.glob("*.png"))) == len(found)


@pytest.fixture(scope="module")
def pulled(smoke_copy, tmp_path_factory) -> Path:
    """The smoke copy's results committed and pushed to a local-folder DVC remote, then a fresh git clone that
    pulls them: what a reader of a profile they cannot run gets (from a copy of the smoke copy: this commits)."""
    shared, env, _, _ = smoke_copy
    repo = tmp_path_factory.mktemp("origin") / "repo"
    shutil.copytree(shared, repo, symlinks=True)
    status = run(["dvc", "status"], repo, env)
    assert "up to date" in status, f"a test before this one left the smoke copy out of date with dvc.lock:\n{status}"
    remote, clone = tmp_path_factory.mktemp("remote"), tmp_path_factory.mktemp("clone") / "repo"
    run(["dvc", "remote", "add", "-f", "-d", "local", str(remote)], repo, env)
    run([*GIT, "add", "-A"], repo, env)
    run([*GIT, "commit", "-q", "--allow-empty", "-m", "smoke results"], repo, env)
    run(["dvc", "push", "--run-cache", "-q"], repo, env)
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path_factory.getbasetemp(), env)
    return clone


def test_a_pulled_clone_has_every_result_without_running_a_stage(smoke_copy, pulled):
    repo, env, _, _ = smoke_copy
    stages = site.stages(repo)
    assert not site.executed(stages[0], pulled).exists()  # executed notebooks live in the DVC cache, not in git
    log = run(["dvc", "pull", "--run-cache"], pulled, env)
    assert "up to date" in run(["dvc", "status"], pulled, env)
    assert "Running stage" not in run(["dvc", "repro"], pulled, env), log
    for stage in stages:
        assert site.executed(stage, pulled).read_bytes() == site.executed(stage, repo).read_bytes(), stage
    for figure in (repo / "figures").glob("*.png"):
        assert (pulled / "figures" / figure.name).read_bytes() == figure.read_bytes(), figure.name
    # DVC's run cache stays empty here: DVC skips it for stages with `cache: false` outputs (figures, metrics and
    # CSVs, which live in git), so what the clone has it got from dvc.lock, git and the DVC cache
    assert not (repo / ".dvc/cache/runs").exists()


def test_dvc_exp_what_if_queued_sweep_show_and_plots_diff(smoke_copy, pulled):
    """The README's dvc exp recipe on stage 02 (seconds in smoke): a what-if, a queued experiment, the metrics
    table and the figures of two experiments side by side."""
    env = smoke_copy[1]
    stage, param, metric = "02_flexrel_time_breakdown", "split_learning.uplink_mbps", "modelled_relevance_share"
    run(["dvc", "exp", "run", stage, "-S", f"{param}=10", "-n", "slow-uplink", "-q"], pulled, env)
    run(["dvc", "exp", "run", "--queue", stage, "-S", f"{param}=1000", "-n", "fast-uplink", "-q"], pulled, env)
    run(["dvc", "queue", "start", "-j", "1"], pulled, env)
    deadline = time.monotonic() + 240
    while any(s in (status := run(["dvc", "queue", "status"], pulled, env)) for s in ("Queued", "Running")):
        assert time.monotonic() < deadline, status
        time.sleep(2)
    assert "fast-uplink" in status and "Success" in status and "Failed" not in status, status
    table = _json(["dvc", "exp", "show", "--json"], pulled, env)
    exps = {r["name"]: r["data"] for x in table for e in (x.get("experiments") or []) for r in e["revs"]}
    for name, value in (("slow-uplink", 10), ("fast-uplink", 1000)):
        assert exps[name]["params"]["params.yaml"]["data"]["split_learning"]["uplink_mbps"] == value
        metrics = exps[name]["metrics"]
        assert 0 < metrics[f"results/{stage}/metrics.json"]["data"][metric] < 1  # the headline numbers, per experiment
        assert metrics["results/99_reproduction_report/metrics.json"]["data"]["verdicts"]
    diff = _json(["dvc", "plots", "diff", "slow-uplink", "fast-uplink", "--json"], pulled, env)
    images = {tuple(i["revisions"]): Path(i["url"]).read_bytes() for i in diff["data"][f"figures/{stage}.png"]}
    assert images[("slow-uplink",)] != images[("fast-uplink",)]


def test_an_exported_network_reloads_in_plain_pytorch_and_scores_its_recorded_accuracy(smoke_copy, tmp_path):
    repo, env, _, _ = smoke_copy
    p = yaml.safe_load((repo / "params.yaml").read_text())["profiles"]["smoke"]["flexrel"]
    factor = p["recovery_factors"][0]
    out = tmp_path / "export"
    run(
        [
            sys.executable,
            "-m",
            "lib.publish.export",
            "--method",
            "flexrel",
            "--factor",
            str(factor),
            "--seed",
            "1",
            "--stage",
            "recovery",
            "--out",
            str(out),
        ],
        repo,
        env,
    )
    record = json.loads((out / "record.json").read_text())
    assert (out / "model.pt2").stat().st_size < (
        out / "state_dict.pt"
    ).stat().st_size + 2**20  # weights and graph, no test images
    acc = record["test_acc"]
    assert acc["stored_run"] == acc["rebuilt"] == acc["exported"]
    kept = record["pruning"]["filters_kept"]
    assert (
        all(k <= n for k, n in kept.values())
        and any(k < n for k, n in kept.values())
        and record["pruning"]["pruned"]["params"] < record["pruning"]["unpruned"]["params"]
    )
    script = (
        "import json, sys, torch, torchvision\n"
        "record = json.load(open('record.json'))\n"
        "model = torch.export.load('model.pt2').module()\n"
        "ds = getattr(torchvision.datasets, record['input']['dataset'])(sys.argv[1], train=False)\n"
        "idx = torch.tensor(record['input']['indices'])\n"
        "x, y = ds.data[idx].unsqueeze(1).float() / 255, ds.targets[idx]\n"
        "with torch.no_grad():\n"
        "    acc = (model(x).argmax(1) == y).float().mean().item()\n"
        "assert not [m for m in sys.modules if m == 'lib' or m.startswith('lib.')]\n"
        "print(json.dumps(acc))\n"
    )
    fresh = {k: v for k, v in env.items() if k not in ("PYTHONPATH",)}
    found = json.loads(
        run([sys.executable, "-I", "-c", script, str(repo / "data")], out, fresh).strip().splitlines()[-1]
    )
    assert found == pytest.approx(acc["stored_run"], abs=0.5 / len(record["input"]["indices"]))
    shutil.rmtree(out)


def test_a_notebook_page_gets_provenance_anchors_and_its_progress_bars_as_text():
    bar = {"application/vnd.jupyter.widget-view+json": {"model_id": "box"}, "text/plain": "runs:   0%|   | 0/4"}
    state = {
        "box": {"state": {"children": ["IPY_MODEL_l", "IPY_MODEL_b", "IPY_MODEL_r"]}},
        "l": {"state": {"value": "runs: 100%"}},
        "b": {"state": {"value": 4, "max": 4}},
        "r": {"state": {"value": " 4/4 [00:01&lt;00:00]"}},
    }
    nb = {
        "metadata": {
            "widgets": {"application/vnd.jupyter.widget-state+json": {"state": state}},
            "papermill": {"duration": 3.2},
        },
        "cells": [
            {"cell_type": "markdown", "source": "# 01 · title"},
            {"cell_type": "code", "source": "frame = run()", "outputs": [{"output_type": "display_data", "data": bar}]},
            {"cell_type": "code", "source": 'plotting.save_figure(fig, "x", prov)', "outputs": []},
            {"cell_type": "code", "source": 'claims.to_csv(out / "claims.csv", index=False)', "outputs": []},
        ],
    }
    prov = {
        "profile": "smoke",
        "commit": "abc1234",
        "stages": {"01": {"params_hash": "h", "notebook_md5": "m", "status": "up to date"}},
    }
    out = site.page(nb, "01", prov)
    sources = ["".join(c["source"]) for c in out["cells"]]
    assert sources[0] == "# 01 · title" and "commit `abc1234`" in sources[1] and "parameters hash `h`" in sources[1]
    assert sources.index('<a id="figure"></a>') == sources.index('plotting.save_figure(fig, "x", prov)') - 1
    assert sources.index('<a id="claims"></a>') == len(sources) - 2
    assert out["cells"][2]["outputs"][0]["data"] == {"text/plain": "runs: 100%|██████████| 4/4 [00:01<00:00]"}
    assert "widgets" not in out["metadata"] and "widgets" in nb["metadata"]  # the executed notebook is not modified


def test_the_exported_module_prepares_images_as_the_pipeline_does():
    import torch

    x = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    wrapped = export.Prepared(torch.nn.Identity(), "FashionMNIST", 32)
    assert torch.allclose(wrapped(x.float() / 255), data.prepare(x, "FashionMNIST", 32), atol=1e-6)


def test_the_cold_run_and_the_phases_read_in_readable_units_beside_the_reference_epoch(tmp_path):
    """REPRODUCTION.md's compute section: the cold run's record (docs/cold-run.csv) and the phase table show every
    time in s, min or h and in training epochs of the default network; no record, no section."""
    import pandas as pd

    from lib.publish import report

    record = tmp_path / "cold-run.csv"
    assert report.cold_run(record, 50.0) is None
    common = {"profile": "default", "commit": "abc", "started": "s", "ended": "e", "cpu": "AMD EPYC", "cores": 2}
    common |= {"dvc_repro_wall_s": 4500.0, "gpu": "none"}
    pd.DataFrame(
        [
            {"stage": "00_data", "wall_s": 15.9, "peak_rss_mib": 998.0},
            {"stage": "01_flexrel", "wall_s": 2400.0, "peak_rss_mib": 1900.0},
        ]
    ).assign(**common).to_csv(record, index=False)
    cold = report.cold_run(record, 50.0)
    assert cold["wall"] == "1.25 h" and cold["epochs"] == "90" and cold["epoch"] == "50 s"
    assert ["01_flexrel", "40 min", "48", "1900"] in [
        [c.strip() for c in row.split("|")[1:-1]] for row in cold["table"].splitlines()
    ]
    phases = pd.DataFrame(
        {"runs": [12, 960], "stored": [12, 960], "computed_s": [2400.0, 1548.0], "median_s": [200.0, 1.5]},
        index=["base training", "retention"],
    )
    text = report.phase_markdown(phases, 50.0)
    assert "| base training | 12 | 12 | 40 min | 48.0 | 3.33 min |" in text
    assert "| **all** | **972** | **972** | **1.1 h** | **79.0** | |" in text


def test_checking_a_site_that_was_never_built_says_to_build_it_first(tmp_path, capsys):
    """``make site-check`` without ``make site``: one line saying to build first (exit 1), not a 404 per page."""
    assert site.main(["check", "--site", str(tmp_path / "site"), "--screenshots", str(tmp_path / "shots")]) == 1
    assert "run `make site` first" in capsys.readouterr().err
    assert not (tmp_path / "shots").exists()


def test_a_stage_record_names_what_its_float_results_depend_on():
    """resources.json's machine holds the processor's vendor, family, model, stepping, microcode and cache (read from
    /proc/cpuinfo here) and torch's kernel instruction set; the compute section names them; a record without them
    (made before they were recorded) gets no such paragraph."""
    from pathlib import Path

    import torch

    from lib.store import machine

    m = machine.machine()
    identity = m["float_identity"]
    assert identity["kernels"] == torch.backends.cpu.get_cpu_capability()
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    for line in cpuinfo.split("\n\n")[0].splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key in ("vendor_id", "cpu family", "model", "stepping", "microcode"):
            assert identity[key] == value, key
    text = "\n".join(report.compute_section({"01": {"machine": m, "seconds": 1.0}}, 50.0, 30000, "VGG"))
    assert f"microcode {identity.get('microcode', '')}".strip() in text and f"kernels {identity['kernels']}" in text
    old = {k: v for k, v in m.items() if k != "float_identity"}
    assert "bit-identical" not in "\n".join(report.compute_section({"01": {"machine": old}}, 50.0, 30000, "VGG"))
