"""Layer 2 — criteria: one score per filter or neuron, every criterion registered once (:mod:`.registry`) beside its
implementation in :mod:`.filters` (magnitude, LRP relevance with zennit, torch-pruning's importances, the rank
paper's contribution on filters; FlexRel's mix); :mod:`.contribution`: the rank paper's neuron contribution;
:mod:`.importance`: FlexRel, relevance and every registered criterion as torch-pruning importances, for any network
(README)."""
