"""Service modules: each owns one responsibility; routes and scripts call them."""
