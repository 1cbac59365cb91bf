"""Privacy controls that cut across the stages: erasure, retention, minimisation, input guards.

The pipeline handles personal data of health and care staff (names, emails, job details and
their follow-up answers), so UK GDPR applies even after pseudonymisation. Pseudonymisation
itself lives where it happens (`staging.people`, at the raw-to-staged boundary); this package
holds what a data-protection officer asks about next: how a person is forgotten for good
(`erasure`), how long raw exports are kept (`retention`), which fields survive the boundary
and why (`minimisation`), and how contact details and known names are kept out of free text and
out of every message that quotes a cell (`redaction`). `SECURITY.md` at the top of the repository is the overview.
"""
