"""The JSON API for the company's own pipelines (`/api/v1`), described by `openapi.py`."""
