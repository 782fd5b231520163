"""Batch prediction (to be built): one service for both roles."""
