"""Dagster definitions by stage: raw exports → staging → warehouse, plus jobs and resources."""
