"""Microsoft Forms response workbooks (xlsx).

Fixed leading columns `ID, Start time, Completion time, Email, Name` (plus optional `Last
modified time`), then one column per question; a Likert statement is its own column headed by
the statement only. `ID` is the response's identity within one form; `Email` is `anonymous` on
anonymous forms (treated as no email). Times are real Excel datetimes.
"""

from amed_pipeline.reading.formats.base import FormatAdapter

MSFORMS = FormatAdapter(
    name="msforms",
    default_dayfirst=True,
    reads_questions=True,
    aliases={
        "response_id": ["ID"],
        "submitted_at": ["Completion time", "Start time"],
        # The respondent's own columns ("anonymous" on anonymous forms); the optional "Email
        # address" question is the `email` field.
        "respondent_email": ["Email"],
        "respondent_name": ["Name"],
    },
)
