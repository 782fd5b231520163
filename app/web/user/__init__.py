"""The user's pages: models, predictions and their history."""
