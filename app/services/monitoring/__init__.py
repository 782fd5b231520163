"""Trust over time: how the company's models do after training.

- `holdout`: the company's one common holdout, and every model's figures on it (a job);
- `drift`: statistics of a model's training inputs, and how far a prediction's inputs moved;
- `outcomes`: what really happened to a prediction's customers, and the realised figures (a job);
- `performance`: realised performance over time per model, for the developer's pages.

The package's `__init__` imports nothing, so training can use `drift` without importing the rest.
"""
