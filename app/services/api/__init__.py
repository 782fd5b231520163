"""The API's services: tokens (shown once, stored hashed) and predictions by model label."""
