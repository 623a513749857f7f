"""Layer 6 — scale: a stage's runs as local or Slurm jobs (:mod:`.sweep`), what each profile costs (:mod:`.sizing`)
and the run store's command line (:mod:`.store`: list, explain, verify, prune what no profile produces)."""
