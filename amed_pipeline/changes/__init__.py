"""What changed since last time: the one owner of change tracking.

A night without changes must do no work, and a plan must never disagree with the run it
launches about what is up to date. Both follow from one rule: every step decides "am I up to
date?" by comparing a fingerprint of its inputs with the one it recorded after its last
successful run, and the assets (`defs/`) and the planner (`operations.planning`) compute those
fingerprints with the same functions, here.

- `hashing`: the one hashing helper (a short fingerprint of any JSON-able value, the sha256 of
  bytes, text or a file).
- `versions`: the code versions (parser, staging semantics, metrics) that the fingerprints
  include and the Dagster assets declare as `code_version`, the step names under which
  fingerprints are recorded, and the files the report steps write.
- `reference`: the reference tables, loaded and hashed once per process while their files are
  unchanged (the raw exports, staging, the warehouse load and the planner all need them).
- `state`: the two state tables (`step_state` per step, `staging_state` per partnership) and
  their read/record helpers.
- `fingerprints`: what each step computes from (raw exports per source, staging per
  partnership, the tables across partnerships, the metric tables, the exports and the report),
  and the export-file hashes and run keys of the new-export sensor.

It sits above `warehouse`, `quality` and `staging` (it reads their tables and the reference
tables) and below `defs` and `operations`; it imports nothing from Dagster, and nothing below it
imports it.
"""
