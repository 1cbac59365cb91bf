"""Evaluation releases: the published figures frozen "as at" a date (and "as known at" one)."""
