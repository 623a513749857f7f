"""The library behind the notebooks, in layers, lowest first: a module imports only from its own layer and the
layers listed before it (``tests/test_layers.py`` fails otherwise, and on any import cycle).

===========  =====================================================================================================
params/      ``params.yaml``: one pydantic schema per section, the profiles, the choice lists, the paths (no torch)
core/        data, networks (VGG-16, ResNet-18, the rank paper's), training loops, physical pruning, statistics, timing
criteria/    what a unit is worth, one registry of criteria: magnitude, LRP relevance, FlexRel's mix,
             torch-pruning's importances, the rank paper's contribution; each as an importance for any network
store/       the run store (a run is a value; its key: its parameters, its code, the libraries); the machine,
             and what a stage cost
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
"""

#: The layers, lowest first: a module may import from its own layer and the ones before it.
LAYERS = ("params", "core", "criteria", "store", "protocols", "verdicts", "scale", "publish")
