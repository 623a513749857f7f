"""The reproduction as a static website, built offline from the executed notebooks, and checked in a browser.

``python -m lib.publish.site build`` (``make site``) writes ``site/`` with Jupyter Book 1.x (Sphinx; execution off, no
launch buttons, no CDN script): a landing page with the claims table — each claim coloured by its verdict
and linked to the figure and to the cell of the notebook that judged it — REPRODUCTION.md, and one page per
executed notebook (``results/<stage>/<stage>.ipynb``, as ``dvc repro`` or ``dvc pull`` left them; nothing is
re-executed). Every page says where it comes from: commit, profile, the hash of the parameters its stage
read (from ``dvc.lock``), the executed notebook's checksum, and whether the workspace still matches
``dvc.lock``. Jupyter Book 2 is not used: it downloads its HTML theme at build time.

``python -m lib.publish.site check`` (``make site-check``) opens every page in headless Chromium (Debian's
``chromium`` and ``chromium-driver``, driven by Selenium) and fails on a console error, a request that
leaves the machine, an image that does not load, or a claims table whose rows differ from
``results/99_reproduction_report/claims.csv``; it saves a screenshot of each page.
"""

from __future__ import annotations

import argparse
import copy
import html
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from ..params import paths, profiles
from ..store import runs
from ..verdicts import rules
from . import plotting, tables

ROOT = paths.ROOT
#: Where a cell of a notebook page is linked from the claims table (an anchor is put before the first code cell
#: whose source contains the marker).
ANCHORS = {"figure": "save_figure(", "claims": '"claims.csv", index=False'}
#: The figure of every primary claim (stage 99's), on the landing page.
FIGURE = "figures/99_reproduction_report.png"
COLOURS = {
    "reproduced": "#c8e6c9",
    "matches": "#c8e6c9",
    "passed": "#c8e6c9",
    "exceeds": "#dcedc8",
    "contradicted": "#ffcdd2",
    "falls short": "#ffcdd2",
    "failed": "#ffcdd2",
    "smaller than claimed": "#ffe0b2",
    "no meaningful difference": "#bbdefb",
    "inconclusive": "#eeeeee",
    "not testable in this regime": "#f5f5f5",
    "not run": "#fff9c4",
}
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
INSTALL_BROWSER = "apt-get update && apt-get install -y chromium chromium-driver"


def stages(root: Path = ROOT) -> list[str]:
    """The pipeline's stages in dvc.yaml's order (each executes the notebook of the same name)."""
    return list(yaml.safe_load((root / "dvc.yaml").read_text())["stages"])


def executed(stage: str, root: Path = ROOT) -> Path:
    """The executed copy of a stage's notebook."""
    return root / "results" / stage / f"{stage}.ipynb"


def provenance(root: Path = ROOT) -> dict:
    """What the pages are built from: commit, profile, and per stage the hash of the parameters it read and
    the checksum of its executed notebook (both from ``dvc.lock``) and what ``dvc status`` says of it."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    dvc = shutil.which("dvc") or str(Path(sys.executable).parent / "dvc")  # the venv's, also when it is not activated
    proc = subprocess.run([dvc, "status", "--json"], cwd=root, capture_output=True, text=True)
    status = json.loads(proc.stdout or "{}") if proc.returncode == 0 else None
    out = {"commit": plotting.git_commit(root), "profile": profiles.active_profile(root / "params.yaml"), "stages": {}}
    for stage in stages(root):
        entry = lock.get(stage, {})
        nb = str(executed(stage, root).relative_to(root))
        md5 = next((o.get("md5") for o in entry.get("outs", []) if o.get("path") == nb), None)
        if status is None:
            state = f"unknown (dvc status failed: {proc.stderr.strip()[-200:]})"
        else:
            state = (
                "up to date with dvc.lock"
                if stage not in status
                else f"changed since dvc.lock: {json.dumps(status[stage])}"
            )
        out["stages"][stage] = {
            "params_hash": runs.config_hash(entry.get("params", {})),
            "notebook_md5": md5,
            "status": state,
        }
    return out


def _widget_text(state: dict, model_id: str) -> str | None:
    """A tqdm progress bar's last state (saved by papermill) as the text line tqdm prints in a terminal."""
    box = state.get(model_id, {}).get("state", {})
    children = [state.get(c.removeprefix("IPY_MODEL_"), {}).get("state", {}) for c in box.get("children", [])]
    if len(children) != 3:
        return None
    left, bar, right = children
    frac = bar.get("value", 0) / bar["max"] if bar.get("max") else 0.0
    return html.unescape(f"{left.get('value', '')}|{'█' * round(10 * frac):<10}|{right.get('value', '')}")


def page(nb: dict, stage: str, prov: dict) -> dict:
    """The site's copy of an executed notebook: a provenance note after its title, anchors before the cells
    the claims table links to (:data:`ANCHORS`), and progress-bar widgets as their final text (a static page
    cannot run the widgets' JavaScript, which would come from a CDN)."""
    nb = copy.deepcopy(nb)
    state = nb["metadata"].pop("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    s, meta = prov["stages"][stage], nb["metadata"].get("papermill", {})
    note = (
        f"**Provenance.** The executed copy of `notebooks/{stage}.ipynb` that `dvc repro {stage}` wrote — profile "
        f"**{prov['profile']}**, commit `{prov['commit']}`, parameters hash `{s['params_hash']}` (the parameters this "
        f"stage read, `dvc.lock`), notebook md5 `{s['notebook_md5']}`, executed {meta.get('end_time', '?')} in "
        f"{meta.get('duration') or 0:.0f} s. Workspace: {s['status']}."
    )
    cells = []
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        for name, marker in ANCHORS.items():
            if (
                cell["cell_type"] == "code"
                and marker in source
                and not any(f'id="{name}"' in "".join(c["source"]) for c in cells)
            ):
                cells.append(
                    {"cell_type": "markdown", "id": f"site-{name}", "metadata": {}, "source": f'<a id="{name}"></a>'}
                )
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view is not None:
                text = _widget_text(state, view["model_id"])
                out["data"] = {"text/plain": text if text is not None else out["data"].get("text/plain", "")}
        cells.append(cell)
    nb["cells"] = [
        cells[0],
        {"cell_type": "markdown", "id": "site-provenance", "metadata": {}, "source": note},
        *cells[1:],
    ]
    return nb


def landing(claims: pd.DataFrame, prov: dict, titles: dict[str, str]) -> str:
    """The landing page (MyST Markdown): counts, provenance, the plain summary of every primary and its figure (as
    REPRODUCTION.md opens), links to every page and the claims table, one row per claim, its verdict cell coloured,
    its source linked to the judging notebook's figure and cell."""
    counts = "; ".join(
        f"{group} " + (", ".join(f"{k}: {v}" for k, v in sorted(found.items())) or "none")
        for group, found in rules.headline(claims).items()
    )
    rows = []
    for c, r in zip(tables.cells(claims), claims.itertuples()):
        nb = f"notebooks/{r.stage}.html"
        links = [f'<a href="{nb}#claims">cell</a>']
        if titles.get(r.stage, (None, False))[1]:
            links.insert(0, f'<a href="{nb}#figure">figure</a>')
        cols = [
            r.paper,
            r.claim + ("" if r.primary or r.paper == "control" else " (sensitivity)"),
            r.paper_value,
            r.quantity,
            c["estimate"],
            c["flip"],
            r.n,
            c["rule"],
            c["mde"],
        ]
        rows.append(
            '<tr class="claim">'
            + "".join(f"<td>{html.escape(str(v))}</td>" for v in cols)
            + f'<td class="verdict" style="background:{COLOURS.get(r.verdict, "#ffffff")}"><b>{html.escape(r.verdict)}'
            f"</b>{html.escape(c['reason'])}</td><td>{html.escape(r.source)} · {html.escape(r.dataset)}<br>"
            + " · ".join(links)
            + "</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "paper",
            "claim",
            "paper value",
            "ours: quantity",
            "estimate [95 % t CI]",
            "sign-flip 95 % CI",
            "n",
            "tested against",
            "MDE",
            "verdict",
            "source",
        )
    )
    pages = "\n".join(f"- [{title}](notebooks/{stage}.ipynb)" for stage, (title, _) in titles.items())
    return "\n".join(
        [
            "# Pruning companion: the reproduction",
            "",
            f"FlexRel (IEEE Network 2026) and rank-based train-time pruning, reproduced figure by figure. Profile "
            f"**{prov['profile']}**, commit `{prov['commit']}`. Verdicts of the papers' primary claims: {counts}. "
            "The rules and their "
            "caveats: [REPRODUCTION.md](reproduction.md). Built from the executed notebooks without re-executing them.",
            "",
            "## At a glance",
            "",
            f":::{{figure}} {FIGURE}",
            ":name: figure",
            ":alt: Every primary claim, coloured by verdict",
            "",
            "Every primary claim: the estimate and its 95 % interval, the seeds, what it is tested against and the "
            "paper's value, coloured by verdict (as REPRODUCTION.md opens).",
            ":::",
            "",
            tables.summary(claims[claims.primary.fillna(False).astype(bool) & (claims.paper != "control")]),
            "",
            "## The notebooks",
            "",
            pages,
            "",
            "## Every claim",
            "",
            "Each row links to the figure and to the cell of the notebook that judged it. Sensitivity rows, gates "
            "(`control`) and the rows of notebooks 07-09 (beyond the papers) are not in the counts above.",
            "",
            "<style>table.claims {font-size: 0.8em} table.claims td {vertical-align: top}</style>",
            '<table class="claims"><thead><tr>' + head + "</tr></thead><tbody>",
            *rows,
            "</tbody></table>",
            "",
        ]
    )


def sources(dest: Path, root: Path = ROOT) -> Path:
    """Write the book's sources (config, table of contents, pages) into ``dest``; fails with what to run if an
    executed notebook or the claims table is missing."""
    missing = [
        str(p.relative_to(root))
        for p in [
            *(executed(s, root) for s in stages(root)),
            root / "results/99_reproduction_report/claims.csv",
            root / FIGURE,
        ]
        if not p.exists()
    ]
    if missing:
        raise FileNotFoundError(f"not built yet: {missing}; run `make reproduce` (or `dvc pull` from a remote) first")
    prov = provenance(root)
    (dest / "notebooks").mkdir(parents=True, exist_ok=True)
    titles = {}
    for stage in stages(root):
        nb = json.loads(executed(stage, root).read_text())
        title = "".join(nb["cells"][0]["source"]).splitlines()[0].lstrip("# ")
        titles[stage] = (title, any(ANCHORS["figure"] in "".join(c["source"]) for c in nb["cells"]))
        (dest / "notebooks" / f"{stage}.ipynb").write_text(json.dumps(page(nb, stage, prov), ensure_ascii=False))
    claims = pd.read_csv(root / "results/99_reproduction_report/claims.csv")
    (dest / "index.md").write_text(landing(claims, prov, titles))
    (dest / FIGURE).parent.mkdir(exist_ok=True)
    shutil.copy(root / FIGURE, dest / FIGURE)  # the figure of every primary, stage 99's
    shutil.copy(root / "REPRODUCTION.md", dest / "reproduction.md")
    (dest / "docs").mkdir(exist_ok=True)  # the analysis plan REPRODUCTION.md links to, at the same relative path
    shutil.copy(root / "docs" / "analysis-plan.md", dest / "docs" / "analysis-plan.md")
    book = {
        "title": "Pruning companion",
        "author": "pruning-companion",
        "only_build_toc_files": True,
        "execute": {"execute_notebooks": "off"},
        "parse": {"myst_enable_extensions": ["colon_fence"]},  # no dollarmath (MathJax is a CDN script), no linkify
        "launch_buttons": {
            "notebook_interface": "classic",
            "binderhub_url": "",
            "jupyterhub_url": "",
            "thebe": False,
            "colab_url": "",
        },
        "repository": {"url": ""},
        "html": {
            "use_repository_button": False,
            "use_issues_button": False,
            "use_edit_page_button": False,
            "use_download_button": False,
        },
        "sphinx": {"config": {"nb_ipywidgets_js": {}, "html_show_copyright": False}},
    }
    (dest / "_config.yml").write_text(yaml.safe_dump(book, sort_keys=False))
    toc = {
        "format": "jb-book",
        "root": "index",
        "chapters": [
            {"file": "reproduction"},
            {"file": "docs/analysis-plan"},
            *({"file": f"notebooks/{s}"} for s in stages(root)),
        ],
    }
    (dest / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    return dest


#: Appended to the Sphinx configuration Jupyter Book writes: no Thebe (its script is the one CDN script Jupyter
#: Book 1 references, and it is declared twice, an error in the console), a light theme by default (an unset
#: mode is a console error of the theme), and a favicon (else the browser's request for one fails).
CONF = """
extensions = [e for e in extensions if e != "sphinx_thebe"]
html_context = {**globals().get("html_context", {}), "default_mode": "light"}
html_favicon = "favicon.svg"
"""
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2e7d32"/>'
    '<text x="8" y="12" font-size="11" text-anchor="middle" fill="white" font-family="sans-serif">P</text></svg>'
)


def build(out: Path = ROOT / "site", root: Path = ROOT) -> Path:
    """Build the site into ``out`` (replaced) and return its ``index.html``: Jupyter Book writes the Sphinx
    configuration of :func:`sources`, :data:`CONF` amends it, Sphinx builds (warnings are errors)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, html_dir = sources(Path(tmp) / "book", root), Path(tmp) / "html"
        (src / "favicon.svg").write_text(FAVICON)
        steps = [
            [str(Path(sys.executable).parent / "jupyter-book"), "config", "sphinx", str(src)],
            [sys.executable, "-m", "sphinx", "-b", "html", "-W", "-n", "--keep-going", "-q", str(src), str(html_dir)],
        ]
        for i, cmd in enumerate(steps):
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd[:4])} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
            if i == 0:
                with (src / "conf.py").open("a") as conf:
                    conf.write(CONF)
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(html_dir, out, ignore=shutil.ignore_patterns(".doctrees", ".buildinfo"))
    return out / "index.html"


#: How Chromium runs here: headless, as root (no sandbox), and with no background connections (this machine's
#: network is closed: they would be refused, many at a time, and hide the page's own requests).
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1800",
)


def browser_missing() -> str | None:
    """Why the browser check cannot run here (with the command that installs what it needs), or ``None``."""
    absent = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    return f"{', '.join(absent)} not installed: `{INSTALL_BROWSER}` (as root)" if absent else None


def check(site: Path, screenshots: Path, root: Path = ROOT) -> dict[str, dict]:
    """Open every page of the built ``site`` in headless Chromium, served from 127.0.0.1, save a screenshot of each
    into ``screenshots`` (a notebook page scrolled to its figure) and return per page what it found: console errors,
    requests to other hosts, images that did not load, and for the landing page its claims-table rows and links. Raises
    ``AssertionError`` listing every page that failed (see the module's docstring)."""
    import functools
    import http.server
    import threading

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (site / "index.html").is_file():
        raise FileNotFoundError(f"no built site at {site} (no index.html): run `make site` first, then check it")
    why = browser_missing()
    if why:
        raise RuntimeError(why)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    screenshots.mkdir(parents=True, exist_ok=True)
    pages = ["index.html", "reproduction.html", *(f"notebooks/{s}.html" for s in stages(root))]
    found: dict[str, dict] = {}
    try:
        for rel in pages:
            driver.get(base + rel)
            images = driver.execute_script(
                "return Array.from(document.images).map(i => [i.src, i.complete && i.naturalWidth > 0])"
            )
            anchors = driver.execute_script("return Array.from(document.querySelectorAll('[id]')).map(e => e.id)")
            sent = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
            urls = [m["params"]["request"]["url"] for m in sent if m["method"] == "Network.requestWillBeSent"]
            found[rel] = {
                "console_errors": [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"],
                "external_requests": [
                    u for u in urls if u.startswith(("http:", "https:", "ws:", "wss:")) and not u.startswith(base)
                ],
                "images": len(images),
                "broken_images": [src for src, ok in images if not ok],
                "anchors": set(anchors),
            }
            if rel == "index.html":
                found[rel]["claim_rows"] = len(driver.find_elements("css selector", "table.claims tr.claim"))
                found[rel]["links"] = driver.execute_script(
                    "return Array.from(document.querySelectorAll('table.claims a')).map(a => a.getAttribute('href'))"
                )
            driver.execute_script(
                "const f = document.getElementById('figure'); if (f) f.scrollIntoView();"
            )  # show the figure
            driver.save_screenshot(str(screenshots / (rel.replace("/", "_").removesuffix(".html") + ".png")))
    finally:
        driver.quit()
        server.shutdown()
    claims = len(pd.read_csv(root / "results/99_reproduction_report/claims.csv"))
    problems = [
        f"{rel}: {k} {v}"
        for rel, f in found.items()
        for k in ("console_errors", "external_requests", "broken_images")
        if (v := f[k])
    ]
    index = found["index.html"]
    if not index["images"]:
        problems.append("index.html shows no image: the figure of every primary is missing")
    if index["claim_rows"] != claims:
        problems.append(f"index.html: {index['claim_rows']} claim rows, claims.csv has {claims}")
    for link in index["links"]:
        target, _, anchor = link.partition("#")
        if anchor not in found.get(target, {}).get("anchors", ()):
            problems.append(f"index.html links {link}, which does not exist")
    if problems:
        raise AssertionError("the site failed in the browser:\n" + "\n".join(problems))
    return found


def main(argv: list[str] | None = None) -> int:
    """Build the reproduction's website from the executed notebooks (build), or check it in headless
    Chromium (check)."""
    parser = argparse.ArgumentParser(prog="python -m lib.publish.site", description=main.__doc__)
    parser.add_argument("command", choices=["build", "check"])
    parser.add_argument("--site", type=Path, default=ROOT / "site", help="the built site (default: site/)")
    parser.add_argument(
        "--screenshots", type=Path, default=ROOT / "site-screenshots", help="check: where screenshots go"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(f"built {build(args.site)}")
        else:
            found = check(args.site, args.screenshots)
            print(
                f"{len(found)} pages loaded without console errors, external requests or broken images "
                f"({sum(f['images'] for f in found.values())} images); {found['index.html']['claim_rows']} claim rows; "
                f"screenshots in {args.screenshots}"
            )
    except (FileNotFoundError, RuntimeError, AssertionError) as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
