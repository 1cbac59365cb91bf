"""Data quality: Great Expectations suites per canonical dataset, surfaced as Dagster asset checks."""
