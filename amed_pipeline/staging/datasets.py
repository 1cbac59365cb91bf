"""The evaluation's semantics: from every source's rows to one canonical dataset each.

Raw rows arrive pseudonymised (`people.attach_person_keys`). Here they become:
- sessions: one per session key (the export's reference, else title + date), training type from
  the reference rules;
- bookings: linked to a session by reference, else by title and date of start; copies of one
  attendee record in overlapping exports resolve by the adapter's record rank (Eventbrite:
  Checked In > any cancellation > Attending); several records of one person for one session
  are one booking with precedence attended > cancelled > booked;
- feedback / follow-up: one row per response, identified by the tool's response id, else by the
  whole row and its occurrence in its file (the k-th identical row of one download is the k-th
  identical row of an overlapping download; identical rows within one download are separate
  responses).
Every raw row ends up in exactly one place: the output rows, `quarantine` (with a reason) or
`duplicates`; the counts add up per file. Nothing here touches the database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from amed_pipeline.lib.frames import as_text, map_distinct, one_per_source_row, text_values
from amed_pipeline.privacy.redaction import mask_series, mask_text
from amed_pipeline.reading.parse import FILE_LEVEL_ROW, QUARANTINE_COLUMNS, FileLedger
from amed_pipeline.reading.values import normalise_header
from amed_pipeline.staging.classification import ReferenceTables
from amed_pipeline.staging.people import UNATTRIBUTABLE
from amed_pipeline.vocabulary import STATUS_PRECEDENCE

DUPLICATE_COLUMNS = ("source_file", "source_row", "kept_file", "kept_row")
LANDED_SUBSTITUTES = {"doing_differently": "comment_digest", "job_title": "profession"}
ANSWER_FIELDS = {
    "feedback": ("usefulness", "knowledge", "confidence", "job_title", "setting"),
    "followup": ("usefulness", "conversations", "doing_differently", "setting", "job_title"),
}


@dataclass
class Staged:
    """A canonical dataset, with everything that did not make it and why."""

    dataset: str
    rows: pd.DataFrame
    quarantine: pd.DataFrame = field(default_factory=lambda: empty_quarantine())
    duplicates: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(DUPLICATE_COLUMNS)))
    files: list[FileLedger] = field(default_factory=list)


@dataclass
class RawExport:
    """One source's pseudonymised rows for staging, or (from landing) a staging batch's rows, its
    partnerships one after the other (`defs.staging._batch_export`).

    Staging reads `rows`, `quarantine` and `files` only; `partnership_id`, `source_name` and
    `dataset` label the export (staging's own, from the landing tables, are named "landing").
    """

    partnership_id: str
    source_name: str
    dataset: str
    rows: pd.DataFrame
    quarantine: pd.DataFrame
    files: list[FileLedger]


def empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in QUARANTINE_COLUMNS})


def _combine(exports: list[RawExport]) -> tuple[pd.DataFrame, pd.DataFrame, list[FileLedger]]:
    frames = [e.rows for e in exports if len(e.rows)]
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    quarantine = pd.concat([e.quarantine for e in exports] + [empty_quarantine()], ignore_index=True)
    files = [f for e in exports for f in e.files]
    return rows, quarantine, files


def quarantine_rows(
    rows: pd.DataFrame, dataset: str, rule: str, column: str, reason: str, value: pd.Series | None = None
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "partnership_id": rows["partnership_id"].to_numpy(),
            "dataset": dataset,
            "source_name": rows["source_name"].to_numpy(),
            "source_file": rows["source_file"].to_numpy(),
            "source_row": rows["source_row"].astype(int).to_numpy(),
            "rule": rule,
            "column_name": column,
            # Staged values are redacted already; masked again, as every text that quotes input is.
            "value": ("" if value is None else mask_series(as_text(value)).to_numpy()),
            "reason": mask_text(reason),
        },
        columns=list(QUARANTINE_COLUMNS),
    )


def _split_duplicates(
    rows: pd.DataFrame, group_by: list[str], order_by: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the last row of each group after sorting by `order_by`; the rest are duplicates."""
    kept, duplicates = _kept_positions(rows, group_by, order_by)
    return _rows_at(rows, kept), duplicates


def _kept_positions(rows: pd.DataFrame, group_by: list[str], order_by: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """`_split_duplicates` by position: the positions of the rows kept (ascending) and the duplicates.

    Only the `order_by` columns are sorted, the groups are found once (`ngroup`), and no row is
    copied: the caller takes the kept rows once.
    """
    order = rows[order_by].reset_index(drop=True).sort_values(order_by, kind="stable").index.to_numpy()
    groups = rows[group_by].iloc[order].groupby(group_by, sort=False, dropna=False).ngroup().to_numpy()
    keep = ~pd.Series(groups).duplicated(keep="last").to_numpy()
    # Each group's last row (in this order) is the one kept: its position, by group.
    kept_position = np.empty(len(keep), dtype=np.intp)
    kept_position[groups[keep]] = order[keep]
    dropped = order[~keep]
    kept_of_dropped = kept_position[groups[~keep]]
    source_file = rows["source_file"].to_numpy()
    source_row = rows["source_row"].to_numpy()
    duplicates = pd.DataFrame(
        {
            "source_file": source_file[dropped],
            "source_row": source_row[dropped].astype(int),
            "kept_file": source_file[kept_of_dropped],
            "kept_row": source_row[kept_of_dropped].astype(int),
        },
        columns=list(DUPLICATE_COLUMNS),
    )
    return np.sort(order[keep]), duplicates


def _rows_at(rows: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """The rows at these positions in the order of their index labels (as `sort_index` puts them)."""
    taken = rows.iloc[np.sort(positions)]
    return taken if taken.index.is_monotonic_increasing else taken.sort_index()


def _formatted(timestamps: pd.Series, fmt: str, missing: str = "") -> pd.Series:
    """`timestamps.dt.strftime(fmt).fillna(missing)`, formatting each distinct timestamp once
    (strftime is a Python call per value, and sessions and bookings share few start times)."""
    codes, distinct = pd.factorize(timestamps)  # NaT gets code -1: the trailing `missing`
    texts = np.append(np.asarray(distinct.strftime(fmt), dtype=object), missing)
    return pd.Series(texts[codes], index=timestamps.index, dtype=object)


def _file_order(rows: pd.DataFrame) -> pd.Series:
    """Later files (by name, as exports are named by date) win ties."""
    return rows["source_file"].rank(method="dense").astype(int)


# --- sessions --------------------------------------------------------------------------------


def session_keys(partnership_ids: pd.Series, refs: pd.Series, titles: pd.Series, starts: pd.Series) -> pd.Series:
    by_ref = partnership_ids + ":" + as_text(refs)
    by_title = (
        partnership_ids + ":" + _formatted(starts, "%Y-%m-%d") + ":" + map_distinct(as_text(titles), normalise_header)
    )
    return by_ref.where(as_text(refs) != "", by_title)


def stage_sessions(exports: list[RawExport], reference: ReferenceTables) -> Staged:
    rows, quarantine, files = _combine(exports)
    if rows.empty:
        return Staged("sessions", pd.DataFrame(columns=SESSION_COLUMNS), quarantine, files=files)
    start = rows["start"].copy()
    from_parts = rows["start_date"] + pd.to_timedelta(
        rows["start_time"].map(lambda t: 0 if t is None or pd.isna(t) else t.hour * 3600 + t.minute * 60 + t.second),
        unit="s",
    )
    rows["start"] = start.where(start.notna(), from_parts)
    no_start = rows["start"].isna()
    no_title = as_text(rows["title"]).str.strip() == ""
    bad = no_start | no_title
    quarantine = pd.concat(
        [
            quarantine,
            quarantine_rows(rows[no_start], "sessions", "required_value_missing", "start", "session has no start date"),
            quarantine_rows(
                rows[no_title & ~no_start], "sessions", "required_value_missing", "title", "session has no title"
            ),
        ],
        ignore_index=True,
    )
    rows = rows[~bad].copy()
    rows["session_key"] = session_keys(rows["partnership_id"], rows["session_ref"], rows["title"], rows["start"])
    rows["file_order"] = _file_order(rows)
    rows, duplicates = _split_duplicates(rows, ["session_key"], ["file_order", "source_row"])
    typed = as_text(rows["training_type"]).str.strip()
    known_types = set(reference.training_types["training_type"])
    rows["training_type"] = typed.where(
        typed.isin(known_types), reference.classify_training_types(typed.where(typed != "", rows["title"]))
    )
    rows["delivery_mode"] = rows["delivery_mode"].replace("", "unknown")
    return Staged("sessions", rows[SESSION_COLUMNS].reset_index(drop=True), quarantine, duplicates, files)


SESSION_COLUMNS = [
    "session_key",
    "partnership_id",
    "session_ref",
    "title",
    "training_type",
    "start",
    "delivery_mode",
    "source_name",
    "source_format",
    "source_file",
    "source_row",
]


# --- bookings --------------------------------------------------------------------------------


def link_bookings_to_sessions(bookings: pd.DataFrame, sessions: pd.DataFrame) -> pd.Series:
    """Session key of each booking: by reference within the partnership, else by title and date."""
    by_ref = dict(zip(sessions["partnership_id"] + "|" + as_text(sessions["session_ref"]), sessions["session_key"]))
    by_title = dict(
        zip(
            sessions["partnership_id"]
            + "|"
            + map_distinct(as_text(sessions["title"]), normalise_header)
            + "|"
            + _formatted(pd.to_datetime(sessions["start"]), "%Y-%m-%d"),
            sessions["session_key"],
        )
    )
    # Bookings are many: their lookup texts are built on object arrays and looked up one by one in
    # plain dicts (a reference, when there is one, wins; else title and date; else '').
    partnerships = bookings["partnership_id"].to_numpy(dtype=object) + "|"
    refs = text_values(bookings["session_ref"])
    titles = map_distinct(as_text(bookings["session_title"]), normalise_header).to_numpy()
    by_title_text = partnerships + titles + "|" + _formatted(bookings["session_start"], "%Y-%m-%d").to_numpy()
    by_ref_keys = [by_ref.get(text) if ref else None for ref, text in zip(refs, partnerships + refs)]
    keys = [by_title.get(title_text, "") if key is None else key for key, title_text in zip(by_ref_keys, by_title_text)]
    return pd.Series(keys, index=bookings.index, dtype=object)


def _link_text(bookings: pd.DataFrame) -> pd.Series:
    """How a booking names its session, as quoted in quarantine: its reference, else title and date."""
    refs = as_text(bookings["session_ref"])
    return refs.where(
        refs != "",
        as_text(bookings["session_title"]) + " on " + bookings["session_start"].dt.strftime("%d/%m/%Y").fillna("?"),
    )


BOOKING_COLUMNS = [
    "partnership_id",
    "session_key",
    "person_key",
    "key_version",
    "status",
    "job_title",
    "profession",
    "role_group",
    "n_records",
    "source_name",
    "source_format",
    "source_file",
    "source_row",
]


def stage_bookings(exports: list[RawExport], sessions: Staged, reference: ReferenceTables) -> Staged:
    rows, quarantine, files = _combine(exports)
    if rows.empty:
        return Staged("bookings", pd.DataFrame(columns=BOOKING_COLUMNS), quarantine, files=files)
    rows["session_key"] = link_bookings_to_sessions(rows, sessions.rows).to_numpy()
    no_status = (as_text(rows["status"]) == "") & (as_text(rows["booking_status"]) != "cancelled")
    unattributable = (rows["person_key"] == "") & ~no_status
    unlinked = (rows["session_key"] == "") & ~unattributable & ~no_status
    link_text = _link_text(rows[unlinked])
    quarantine = pd.concat(
        [
            quarantine,
            quarantine_rows(
                rows[no_status],
                "bookings",
                "required_value_missing",
                "status",
                "booking has no status (map the source's status column, or set options.default_values.status)",
            ),
            quarantine_rows(rows[unattributable], "bookings", "person_unattributable", "email", UNATTRIBUTABLE),
            quarantine_rows(
                rows[unlinked],
                "bookings",
                "session_unknown",
                "session_ref",
                "booking links to no known session (no session with this reference, nor with this title on this date)",
                link_text,
            ),
        ],
        ignore_index=True,
    )
    rows = rows[~(no_status | unattributable | unlinked)]
    rows["file_order"] = _file_order(rows)
    # 1. Copies of one attendee record across overlapping exports of one source (rows with a
    # record reference only; the rest all stay). Found by position: the frame is taken once.
    with_ref = np.flatnonzero((rows["record_ref"] != "").to_numpy())
    group_by, order_by = ["source_name", "session_key", "record_ref"], ["record_rank", "file_order", "source_row"]
    needed = list(dict.fromkeys([*group_by, *order_by, "source_file", "source_row"]))
    kept_with_ref, record_duplicates = _kept_positions(rows[needed].iloc[with_ref], group_by, order_by)
    without_ref = np.flatnonzero((rows["record_ref"] == "").to_numpy())
    rows = _rows_at(rows, np.concatenate([with_ref[kept_with_ref], without_ref]))
    # 2. One person, several records for one session: one booking, attended > cancelled > booked.
    cancelled = as_text(rows["booking_status"]) == "cancelled"
    rows["status"] = rows["status"].where(~cancelled, "cancelled")
    rows["precedence"] = rows["status"].map(STATUS_PRECEDENCE).fillna(0).astype(int)
    n_records = rows.groupby(["session_key", "person_key"])["source_row"].transform("size")
    rows["n_records"] = n_records.to_numpy()
    rows, person_duplicates = _split_duplicates(
        rows, ["session_key", "person_key"], ["precedence", "file_order", "source_row"]
    )
    if "job_title" in rows:
        rows["profession"] = reference.classify_professions(rows["job_title"]).to_numpy()
    # else: classified as the rows landed (the landing layer keeps no job title next to a person)
    rows["role_group"] = rows["profession"].map(reference.role_group_of).fillna("unclassified").to_numpy()
    duplicates = pd.concat([record_duplicates, person_duplicates], ignore_index=True)
    return Staged(
        "bookings",
        rows.reindex(columns=BOOKING_COLUMNS, fill_value="").reset_index(drop=True),
        quarantine,
        duplicates,
        files,
    )


# --- survey responses ------------------------------------------------------------------------


SURVEY_COLUMNS = {
    "feedback": [
        "response_key",
        "partnership_id",
        "response_id",
        "submitted_at",
        "usefulness",
        "knowledge",
        "confidence",
        "job_title",
        "profession",
        "role_group",
        "setting_answer",
        "setting",
        "person_key",
        "key_version",
        "source_name",
        "source_format",
        "source_file",
        "source_row",
    ],
    "followup": [
        "response_key",
        "partnership_id",
        "response_id",
        "submitted_at",
        "usefulness",
        "conversations",
        "doing_differently",
        "job_title",
        "profession",
        "role_group",
        "setting_answer",
        "setting",
        "person_key",
        "key_version",
        "source_name",
        "source_format",
        "source_file",
        "source_row",
    ],
}


def occurrences(rows: pd.DataFrame, identity: pd.Series) -> pd.Series:
    """1 for the first row of a file with this identity, 2 for the second identical row, and so on (by row)."""
    order = pd.DataFrame(
        {
            "file": rows["source_file"].to_numpy(),
            "row": rows["source_row"].astype(int).to_numpy(),
            "identity": identity.to_numpy(),
        },
        index=rows.index,
    )
    order = order.sort_values(["file", "row"], kind="stable")
    return (order.groupby(["file", "identity"], sort=False).cumcount() + 1).reindex(rows.index)


def response_keys(rows: pd.DataFrame, dataset: str) -> pd.Series:
    """The tool's response id within its source; without one, the row's content and its occurrence.

    Without an id (Google Forms, JISC without a Unique Response Number, registers), identical rows in
    one download are separate responses (two colleagues who trained the same day and answered
    alike); only across overlapping downloads of a source is the k-th identical row of one file the
    same response as the k-th identical row of another.
    """
    # Built on object arrays (`text_values`): the same strings as `as_text` concatenation, cheaper.
    answers = text_values(rows["submitted_at"])
    for name in ANSWER_FIELDS[dataset]:
        # Landed rows carry a keyed digest of the comment and the title's classification instead.
        name = name if name in rows else LANDED_SUBSTITUTES[name]
        answers = answers + "\x1f" + text_values(rows[name])
    answers = answers + "\x1f" + text_values(rows["person_key"])
    response_ids = text_values(rows["response_id"])
    occurrence = text_values(occurrences(rows, pd.Series(answers, index=rows.index, dtype=object)))
    by_content = "row:" + answers + "\x1f#" + occurrence
    identity = np.where(response_ids != "", "id:" + response_ids, by_content)
    text = rows["partnership_id"].to_numpy(dtype=object) + "|" + rows["source_name"].to_numpy(dtype=object) + "|"
    return pd.Series(_digests(text + identity), index=rows.index, dtype="str")


def _digests(texts: np.ndarray) -> list[str]:
    """The first 24 hex digits of each text's SHA-256 (a comprehension: no per-row `Series.map` overhead)."""
    return [hashlib.sha256(t.encode("utf-8")).hexdigest()[:24] for t in texts]


def stage_survey(dataset: str, exports: list[RawExport], reference: ReferenceTables) -> Staged:
    rows, quarantine, files = _combine(exports)
    columns = SURVEY_COLUMNS[dataset]
    if rows.empty:
        return Staged(dataset, pd.DataFrame(columns=columns), quarantine, files=files)
    rows["response_key"] = response_keys(rows, dataset).to_numpy()
    rows["file_order"] = _file_order(rows)
    rows, duplicates = _split_duplicates(rows, ["response_key"], ["file_order", "source_row"])
    rows["setting_answer"] = as_text(rows["setting"])
    rows["setting"] = reference.classify_settings(rows["setting_answer"]).to_numpy()
    if "job_title" in rows:
        has_title = as_text(rows["job_title"]).str.strip() != ""
        rows["profession"] = reference.classify_professions(rows["job_title"]).where(has_title, "").to_numpy()
    rows["role_group"] = rows["profession"].map(reference.role_group_of).fillna("").to_numpy()
    return Staged(
        dataset, rows.reindex(columns=columns, fill_value="").reset_index(drop=True), quarantine, duplicates, files
    )


def file_accounting(staged: Staged) -> pd.DataFrame:
    """Per file: rows read, loaded, quarantined and duplicate; `balanced` says whether they add up."""
    ledger = pd.DataFrame([f.__dict__ for f in staged.files])
    if ledger.empty:
        return ledger
    loaded = staged.rows.groupby("source_file").size() if len(staged.rows) else pd.Series(dtype=int)
    row_level = staged.quarantine[staged.quarantine["source_row"].astype(int) != FILE_LEVEL_ROW]
    quarantined = one_per_source_row(row_level).groupby("source_file").size()
    duplicates = staged.duplicates.groupby("source_file").size()
    ledger["rows_loaded"] = ledger["source_file"].map(loaded).fillna(0).astype(int)
    file_errors = ledger["error"] != ""
    ledger["rows_quarantined"] = (
        ledger["source_file"].map(quarantined).fillna(0).astype(int).where(~file_errors, ledger["rows_read"])
    )
    ledger["rows_duplicate"] = ledger["rows_duplicate"] + ledger["source_file"].map(duplicates).fillna(0).astype(int)
    ledger["balanced"] = (
        ledger["rows_read"] == ledger["rows_loaded"] + ledger["rows_quarantined"] + ledger["rows_duplicate"]
    )
    return ledger
