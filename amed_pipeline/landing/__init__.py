"""Landing: every export file's parsed, pseudonymised rows, kept per file in the warehouse (between reading and staging)."""
