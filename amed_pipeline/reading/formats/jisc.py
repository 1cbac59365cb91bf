"""JISC Online Surveys (formerly Bristol Online Surveys) CSV exports.

Headers are numbered (`3. How useful…`, `5.1. …`): numbering is ignored when matching questions.
Every cell is quoted; dates are `dd/mm/yyyy` (`dayfirst` defaults to true). With "include unique
response number" ticked, `Unique Response Number` (or `URN` in coded exports) is the identity.
The submission-date column's label depends on the export option chosen, so several are accepted.
"""

from amed_pipeline.reading.formats.base import FormatAdapter

JISC = FormatAdapter(
    name="jisc",
    default_dayfirst=True,
    reads_questions=True,
    aliases={
        "response_id": ["Unique Response Number", "URN"],
        "submitted_at": [
            "Date and time of response submission",
            "Date of response submission",
            "Completion date",
            "Timestamp",
        ],
    },
)
