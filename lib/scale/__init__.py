"""Layer 6 — scale: a stage's runs as local or Slurm jobs (:mod:`.sweep`) and what each profile costs
(:mod:`.sizing`)."""
