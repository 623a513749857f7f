"""Layer 4 — protocols: the papers' experiments as stored runs (:class:`lib.store.runs.Run` values). FlexRel: its
base networks (:mod:`.base_networks`), scores and pruning runs (:mod:`.flexrel`) and split-learning cost
(:mod:`.split_learning`); the rank paper: train-time pruning of MLPs (:mod:`.train_time`) and of a VAE
(:mod:`.train_time_vae`); the studies beyond the papers (:mod:`.studies`), the two papers crossed (:mod:`.crossed`),
and which runs each stage reads (:mod:`.stages`)."""
