"""Layer 2 — criteria: one score per filter or neuron. :mod:`.filters`: magnitude, LRP relevance (zennit),
FlexRel's mix and torch-pruning's importances; :mod:`.contribution`: the rank paper's neuron contribution;
:mod:`.importance`: FlexRel and relevance as torch-pruning importances, for any network (README)."""
