"""Layer 4 — protocols: the papers' experiments as stored runs. FlexRel: its base networks
(:mod:`.base_networks`), pruning runs (:mod:`.flexrel`) and split-learning cost (:mod:`.split_learning`); the
rank paper: train-time pruning of MLPs (:mod:`.train_time`) and of a VAE (:mod:`.train_time_vae`); the
studies beyond the papers (:mod:`.studies`) and the two papers crossed (:mod:`.crossed`)."""
