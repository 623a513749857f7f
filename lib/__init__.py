"""Small library behind the notebooks: config, data, scores, pruning, models, training, split-learning cost, plotting."""
