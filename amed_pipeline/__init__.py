"""Active Medicine evaluation pipeline.

Raw partnership exports (booking systems, Eventbrite, survey tools) are read by format
adapters (`reading`), turned into canonical datasets with the evaluation's semantics
(`staging`), loaded into one pseudonymised SQL warehouse (`warehouse`) and orchestrated by
Dagster (`defs`, `definitions.py`).
"""
