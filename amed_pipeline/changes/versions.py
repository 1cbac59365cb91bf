"""The code versions the fingerprints include, and the names under which steps record theirs.

Bump a version when the code it names changes meaning: every input is then processed again on
the next run. Each is also the `code_version` of its Dagster assets, so the UI shows which code
produced a materialisation and marks the assets as changed when it moves.
"""

# Parsing and landing (the raw-export assets): every file is read again.
PARSER_VERSION = "2"  # 2: redaction of free text and error text; damaged cells quarantine their row
# Staging semantics (the staged datasets): every partnership is staged again.
SEMANTICS_VERSION = "2"
# Metric definitions, disclosure control and report code (metric tables, exports, report).
METRICS_VERSION = "3"

# Keys of `state.step_state`: one fingerprint per step that spans partnerships.
GLOBAL_STEP = "warehouse_load"  # the tables across partnerships
METRICS_STEP = "metric_tables"
EXPORTS_STEP = "reports/exports"
REPORT_STEP = "reports/evaluation_report"
NAME_SWEEP_STEP = "landing_known_names"  # the set of known names landed free text was last swept with

# The files the exports and report steps write in the export dir (their fingerprints hash them).
EXPORT_FILES = ("metric_values.csv", "metric_definitions.csv", "amed_metrics.xlsx")
REPORT_FILE = "evaluation_report.html"
