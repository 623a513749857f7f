"""The library behind the notebooks, in layers, lowest first: a module imports only from its own layer and the
layers listed before it (``tests/test_layers.py`` fails otherwise, and on any import cycle).

===========  =====================================================================================================
params/      ``params.yaml``: one pydantic schema per section, the profiles, the choice lists, the paths (no torch)
core/        data, networks (VGG-16, ResNet-18, the rank paper's), training loops, physical pruning, statistics, timing,
             what code a computation executed (code)
criteria/    what a unit is worth, one registry of criteria: magnitude, LRP relevance, FlexRel's mix,
             torch-pruning's importances, the rank paper's contribution; each as an importance for any network
store/       the run store (a run is a value; its key: its parameters and the libraries; the code it executed,
             checked on lookup); the machine, and what a stage cost
protocols/   the papers' experiments as stored runs: FlexRel's base networks and pruning runs, train-time pruning
             of MLPs and a VAE, the split-learning cost model, the studies beyond the papers, the papers crossed;
             the runs each stage reads (stages.runs_of)
verdicts/    torch-free: the verdict engine (rules), what it measures (measures), the papers' numbers, primary
             endpoints and claim families (papers), the studies' rows (study_claims), robustness across runs
scale/       a stage's runs as local or Slurm jobs, what a profile costs, the run store's command line
publish/     the notebooks' setup, figures, claims tables, the reproduction report (a Jinja2 template), the
             website, exported networks
===========  =====================================================================================================

A notebook reads like the paper section it reproduces: :func:`lib.publish.notebook.setup`, a few protocol
calls, the figure (:mod:`lib.publish.plotting`), the claims (:mod:`lib.verdicts`).

Installed (``pip install .``), the library is the package ``pruning_companion`` (its modules import one another
relatively, so the folder's name is not theirs), and its public names are importable from the top:
``from pruning_companion import FlexRelImportance``. They load on first use, so that ``params`` and ``verdicts``
stay importable without torch.
"""

from importlib import import_module

#: The layers, lowest first: a module may import from its own layer and the ones before it.
LAYERS = ("params", "core", "criteria", "store", "protocols", "verdicts", "scale", "publish")

#: The names a user of the installed package imports from its top, and the module each lives in.
PUBLIC = {
    "FlexRelImportance": "criteria.importance",
    "RelevanceImportance": "criteria.importance",
    "CriterionImportance": "criteria.importance",
    "recalibrate_batchnorm": "core.train",
    "pruning_record": "publish.export",
    "save": "publish.export",
}
__all__ = sorted(PUBLIC)


def __getattr__(name: str):
    if name not in PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{PUBLIC[name]}", __name__), name)
