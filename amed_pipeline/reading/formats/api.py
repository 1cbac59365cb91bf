"""Adapters for API snapshot pages: each page read as the export the same system would give.

A snapshot page (`pulling.snapshots`) is a raw file like any export: hashed, ledgered, read,
quarantined when it cannot be read (a malformed page is one file-level quarantine record). The
API module turns the page's records into the rows and headers of that system's own export
(`pulling.<api>.rows`), and from there the usual adapter machinery applies: header aliases,
`options.questions`, value maps, `attended_statuses`, date parsing, lineage (the page file and
the record's position in it as `source_row`).

Differences from the file adapters, each for a reason:
- `eventbrite_api` ranks every copy of an attendee equally, so the latest snapshot wins: the
  API says what the booking is now, whereas overlapping exports needed Checked In > cancelled.
- `google_forms_api` has the response id the CSV download lacks.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from amed_pipeline.config import Source
from amed_pipeline.pulling import eventbrite, google_forms, surveymonkey
from amed_pipeline.pulling.snapshots import MalformedPage, read_page
from amed_pipeline.reading.files import RawTable, UnreadableFileError, may_hold_damaged_cells
from amed_pipeline.reading.formats.base import FormatAdapter
from amed_pipeline.reading.formats.eventbrite import EVENTBRITE, EventbriteAdapter
from amed_pipeline.reading.formats.google_forms import GOOGLE_FORMS
from amed_pipeline.reading.formats.surveymonkey import SURVEYMONKEY


def snapshot_table(path: Path, rows_of) -> RawTable:
    """A snapshot page as a RawTable (`source_row` = the record's position in the page, from 1)."""
    try:
        document = read_page(path)
        headers, rows = rows_of(Path(path), document)
    except MalformedPage as exc:
        raise UnreadableFileError(path, str(exc)) from None
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise UnreadableFileError(path, f"the page does not have the documented shape: {exc}") from None
    width = len(headers)
    cells = [[str(c) for c in r] for r in rows]
    frame = pd.DataFrame(cells, columns=range(width), dtype=object)
    if frame.empty:
        frame = pd.DataFrame({i: pd.Series([], dtype=object) for i in range(width)})
    frame["source_row"] = range(1, len(frame) + 1)
    frame["overflow"] = ""
    return RawTable(
        path=Path(path),
        header_rows=[list(headers)],
        rows=frame,
        encoding="json",
        damage_possible=may_hold_damaged_cells(cells),
    )


class SnapshotAdapter(FormatAdapter):
    """A FormatAdapter whose files are snapshot pages (set `rows_of` with `object.__setattr__`)."""

    def read_file(self, path: Path, source: Source, is_header=None) -> RawTable:
        return snapshot_table(path, self.rows_of)


class EventbriteApiAdapter(EventbriteAdapter):
    def read_file(self, path: Path, source: Source, is_header=None) -> RawTable:
        return snapshot_table(path, eventbrite.rows)

    def record_rank(self, frame: pd.DataFrame) -> pd.Series:
        # Every copy ranks the same: the latest snapshot (later file) is the record's current state.
        return pd.Series(1, index=frame.index)


def _snapshot_adapter(rows_of, **kwargs) -> SnapshotAdapter:
    adapter = SnapshotAdapter(**kwargs)
    object.__setattr__(adapter, "rows_of", rows_of)
    return adapter


EVENTBRITE_API = EventbriteApiAdapter(
    name="eventbrite_api",
    default_dayfirst=False,
    aliases=EVENTBRITE.aliases,
    default_values=EVENTBRITE.default_values,
)
SURVEYMONKEY_API = _snapshot_adapter(
    surveymonkey.rows,
    name="surveymonkey_api",
    reads_questions=True,
    aliases=SURVEYMONKEY.aliases,  # incl. the email collector's `Email Address`/`First Name`/`Last Name`
)
GOOGLE_FORMS_API = _snapshot_adapter(
    google_forms.rows,
    name="google_forms_api",
    reads_questions=True,
    # As the download: `respondentEmail` (the address Google collects) is `respondent_email`; the
    # optional "Email address (optional)" question stays `email` through `options.questions`.
    aliases={**GOOGLE_FORMS.aliases, "response_id": ["Response ID"]},
)
