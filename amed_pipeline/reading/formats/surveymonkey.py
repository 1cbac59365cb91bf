"""SurveyMonkey "all responses" exports (CSV or xlsx) with their two header rows.

Row 1 holds question text, row 2 `Response`, `Open-Ended Response` or an option label; a blank
row-1 cell continues the previous question. The nine fixed leading columns (`Respondent ID` …
`Custom Data 1`) carry metadata; `Respondent ID` is the response's identity. Dates are US
month-first (`07/31/2023 04:21:36 PM`) even on UK accounts, so `dayfirst` defaults to false.
"""

from __future__ import annotations

from amed_pipeline.lib.text import clean_text
from amed_pipeline.reading.files import RawTable
from amed_pipeline.reading.formats.base import FormatAdapter

PLAIN_SUBHEADERS = ("", "response", "open-ended response")


class SurveyMonkeyAdapter(FormatAdapter):
    def headers(self, table: RawTable) -> list[str]:
        return merge_two_header_rows(table.header_rows[0], table.header_rows[1])


def merge_two_header_rows(questions: list[str], subheaders: list[str]) -> list[str]:
    """One header per column: the question, plus `[option]` where row 2 names an option."""
    merged: list[str] = []
    current = ""
    for question, sub in zip(questions, subheaders):
        question, sub = clean_text(question), clean_text(sub)
        if question:
            current = question
        elif not sub:
            merged.append("")  # a trailing empty column, not a continuation
            continue
        merged.append(current if sub.casefold() in PLAIN_SUBHEADERS else f"{current} [{sub}]")
    return merged


SURVEYMONKEY = SurveyMonkeyAdapter(
    name="surveymonkey",
    header_rows=2,
    default_dayfirst=False,
    reads_questions=True,
    aliases={
        "response_id": ["Respondent ID"],
        "submitted_at": ["End Date", "Start Date"],
        # Filled by email-invitation collectors: the respondent's own address and name.
        "respondent_email": ["Email Address"],
        "first_name": ["First Name"],
        "last_name": ["Last Name"],
    },
)
