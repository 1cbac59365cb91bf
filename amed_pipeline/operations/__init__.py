"""Running the pipeline day to day: what happens when a run fails (record, log, alert)."""
