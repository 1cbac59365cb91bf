"""Privacy rules as pure functions, below the stages that apply them: redaction, minimisation, erasure list.

The pipeline handles personal data of health and care staff (names, emails, job details and
their follow-up answers), so UK GDPR applies even after pseudonymisation. Pseudonymisation
itself lives where it happens (`staging.people`, at the raw-to-staged boundary, with the keyed
hashes of `hashing`); this package holds what a data-protection officer asks about next: how a
person is forgotten for good (the list, `erasure`), how long raw exports are kept (`retention`),
which fields survive the boundary and why (`minimisation`), how contact details and known names
are kept out of free text and out of every message that quotes a cell (`redaction`), and the
pseudonym-key guard (`key_guard`). It imports only the ground floor (`settings`, `lib`, `errors`)
and `config`, so `reading`, `landing` and `staging` can all use it. What acts on the warehouse
lives above: the `forget`/`rekey` commands (`commands.privacy`), the erasure-list resource
(`defs.erasure_list`), the SQL that deletes a person's rows (`warehouse.erasure`).
`SECURITY.md` at the top of the repository is the overview.
"""
