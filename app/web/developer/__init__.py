"""The developer's pages: models, retraining, deployment, data sets, predictions, users."""
