"""Staging semantics (`amed_pipeline.staging`) on small hand-built exports.

Scope: what the evaluation counts, from raw files through `read_source` → `attach_person_keys` →
`stage_sessions` / `stage_bookings` / `stage_survey`: overlapping cumulative Eventbrite exports
resolve each attendee record by its best status; one person with records in two booking systems
for one session is one booking (attended > cancelled > booked); bookings link to sessions by
Event ID or by title + date; unattributable bookings (`Info Requested`) and unlinked bookings
are quarantined with a reason; survey responses de-duplicate by response id, else by the whole
row; every file's rows add up (`file_accounting`). Also pseudonymisation and the classification
of job titles and workplaces with the real `data/reference` tables.
"""

from __future__ import annotations

import pandas as pd
import pytest

from amed_pipeline.staging.datasets import file_accounting, stage_bookings, stage_sessions, stage_survey
from amed_pipeline.staging.people import PERSONAL_COLUMNS, UNATTRIBUTABLE, attach_person_keys, key_version
from amed_pipeline_tests.conftest import BOOKWHEN_OPTIONS, TEST_KEY, TEST_PARTNERSHIP

EVENT_ID = "115243358567"
SESSION_BY_REF = f"{TEST_PARTNERSHIP}:{EVENT_ID}"
SESSION_BY_TITLE = f"{TEST_PARTNERSHIP}:2020-07-21:physical activity in clinical care"

SESSIONS_CSV = (
    "Event ref,Event,Event starts,Venue\n"
    f"{EVENT_ID},Helping people become more active,14/07/2020 10:00,Zoom\n"
    ",Physical activity in clinical care,21/07/2020 13:30,\n"
)
SESSION_OPTIONS = {
    "dayfirst": True,
    "columns": {"session_ref": "Event ref", "title": "Event", "start": "Event starts", "delivery_mode": "Venue"},
    "values": {"delivery_mode": {"Zoom": "online"}},
    "default_values": {"delivery_mode": "in_person"},
}
EB_HEADER = "Event Name,Event ID,Order no.,Order Date,First Name,Surname,Email,Attendee no.,Attendee Status,Job Title\n"
BOOKWHEN_HEADER = "Attendee CustomerID,Event title,Event starts,First name,Last name,Email,Job role,Attended?\n"


def eb_row(attendee: int, first: str, email: str, status: str, job: str, last: str = "Test") -> str:
    return (
        f"Helping people become more active,{EVENT_ID},{attendee - 100},2020-06-20 10:00:00+01:00,"
        f"{first},{last},{email},{attendee},{status},{job}\n"
    )


@pytest.fixture
def sessions(write_export, data_dir, make_source, raw_export, reference_tables):
    write_export("sessions/sessions.csv", SESSIONS_CSV)
    source = make_source("sessions", "mapped_csv", "sessions/*.csv", **SESSION_OPTIONS)
    return stage_sessions([raw_export(source, data_dir)], reference_tables)


@pytest.fixture
def stage(data_dir, make_source, raw_export, reference_tables, sessions):
    """Stage bookings from sources declared as `(name, format, glob, options)`."""

    def _stage(*declared):
        exports = [
            raw_export(make_source("bookings", fmt, path, name=name, **options), data_dir)
            for name, fmt, path, options in declared
        ]
        return stage_bookings(exports, sessions, reference_tables)

    return _stage


def status_by_job(staged) -> dict[str, str]:
    return dict(zip(staged.rows["job_title"], staged.rows["status"]))


def assert_balanced(staged) -> pd.DataFrame:
    accounting = file_accounting(staged)
    assert len(accounting) == len(staged.files)
    columns = ["source_file", "rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate"]
    assert accounting["balanced"].all(), accounting[columns].to_string()
    return accounting.set_index("source_file")


# --- sessions -----------------------------------------------------------------------------------


def test_sessions_keys_training_types_and_delivery(sessions):
    rows = sessions.rows.set_index("session_key")
    assert list(rows.index) == [SESSION_BY_REF, SESSION_BY_TITLE]
    assert rows["training_type"].tolist() == ["helping_people_become_more_active", "physical_activity_in_clinical_care"]
    assert rows["delivery_mode"].tolist() == ["online", "in_person"]  # blank venue → default
    assert rows.loc[SESSION_BY_REF, "start"] == pd.Timestamp("2020-07-14 10:00")
    assert assert_balanced(sessions)["rows_loaded"].tolist() == [2]


# --- bookings: overlapping exports of one source -------------------------------------------------------


def test_overlapping_cumulative_eventbrite_exports(write_export, stage):
    write_export(
        "eb/attendees-2020-07-01.csv",
        EB_HEADER
        + eb_row(201, "Aisha", "aisha@example.org", "Attending", "Band 6 Physio")
        + eb_row(202, "Ben", "ben@example.org", "Attending", "Practice Nurse")
        + eb_row(203, "Chloé", "chloe@example.org", "Checked In", "PWP")
        + eb_row(204, "Dev", "dev@example.org", "Attending", "Library assistant")
        + eb_row(205, "Esi", "esi@example.org", "Not Attending", "Housing support officer"),
    )
    write_export(
        "eb/attendees-2020-07-15.csv",
        EB_HEADER
        + eb_row(201, "Aisha", "aisha@example.org", "Checked In", "Band 6 Physio")
        + eb_row(202, "Ben", "ben@example.org", "Not Attending", "Practice Nurse")
        + eb_row(203, "Chloé", "chloe@example.org", "Not Attending", "PWP")
        + eb_row(204, "Dev", "dev@example.org", "Attending", "Library assistant")
        + eb_row(205, "Esi", "esi@example.org", "Checked In", "Housing support officer")
        + eb_row(206, "Fay", "fay@example.org", "Attending", "Social Prescribing Link Worker"),
    )
    staged = stage(("eventbrite", "eventbrite", "eb/*.csv", {}))
    assert status_by_job(staged) == {
        "Band 6 Physio": "attended",  # Attending → Checked In
        "Practice Nurse": "cancelled",  # Attending → Not Attending
        "PWP": "attended",  # Checked In, then Not Attending in a later export
        "Library assistant": "booked",
        "Housing support officer": "attended",  # Not Attending, then Checked In
        "Social Prescribing Link Worker": "booked",
    }
    assert len(staged.rows) == 6
    assert set(staged.rows["session_key"]) == {SESSION_BY_REF}
    assert staged.rows["n_records"].tolist() == [1] * 6  # copies of one record are not several records
    # The kept Checked In copy of 203 is in the earlier file; its later copy points at it.
    dropped = staged.duplicates.set_index(["source_file", "source_row"])
    assert dropped.loc[("eb/attendees-2020-07-15.csv", 4)].tolist() == ["eb/attendees-2020-07-01.csv", 4]
    assert len(staged.duplicates) == 5
    accounting = assert_balanced(staged)
    assert accounting.loc["eb/attendees-2020-07-01.csv", ["rows_read", "rows_loaded", "rows_duplicate"]].tolist() == [
        5,
        1,
        4,
    ]
    assert accounting.loc["eb/attendees-2020-07-15.csv", ["rows_read", "rows_loaded", "rows_duplicate"]].tolist() == [
        6,
        5,
        1,
    ]


def test_the_same_export_twice_is_counted_once(write_export, stage):
    text = EB_HEADER + eb_row(201, "Aisha", "aisha@example.org", "Checked In", "Band 6 Physio")
    write_export("eb/a.csv", text)
    write_export("eb/a (1).csv", text)
    staged = stage(("eventbrite", "eventbrite", "eb/*.csv", {}))
    assert len(staged.rows) == 1
    accounting = assert_balanced(staged)
    assert accounting["rows_duplicate"].sum() == 1


# --- bookings: one person across booking systems; linking -------------------------------------------


@pytest.mark.parametrize(
    ("eventbrite_status", "bookwhen_attended", "expected", "winner"),
    [
        ("Attending", "Yes", "attended", "bookwhen"),
        ("Checked In", "No", "attended", "eventbrite"),
        ("Not Attending", "No", "cancelled", "eventbrite"),
        ("Attending", "Cancelled", "cancelled", "bookwhen"),
    ],
)
def test_one_person_in_two_booking_systems_is_one_booking(
    write_export, stage, eventbrite_status, bookwhen_attended, expected, winner
):
    # The same person: email differs in case and surrounding whitespace between the systems.
    write_export(
        "eb/attendees.csv",
        EB_HEADER + eb_row(201, "Aisha", "  Aisha.Example@EXAMPLE.org ", eventbrite_status, "Band 6 Physio"),
    )
    write_export(
        "bookwhen/attendances.csv",
        BOOKWHEN_HEADER
        + f"C1,HELPING PEOPLE BECOME MORE ACTIVE,14/07/2020 10:00,Aisha,Example,aisha.example@example.org,Band 6 Physio,{bookwhen_attended}\n",
    )
    staged = stage(
        ("eventbrite", "eventbrite", "eb/*.csv", {}),
        ("bookwhen", "mapped_csv", "bookwhen/*.csv", BOOKWHEN_OPTIONS),
    )
    assert len(staged.rows) == 1
    booking = staged.rows.iloc[0]
    assert (booking["session_key"], booking["status"], booking["n_records"], booking["source_name"]) == (
        SESSION_BY_REF,
        expected,
        2,
        winner,
    )
    [duplicate] = staged.duplicates.to_dict("records")
    assert duplicate["kept_file"] == booking["source_file"]
    assert_balanced(staged)


def test_bookings_link_by_event_id_and_by_title_and_date(write_export, stage):
    write_export(
        "eb/attendees.csv", EB_HEADER + eb_row(201, "Aisha", "aisha@example.org", "Checked In", "Band 6 Physio")
    )
    write_export(
        "bookwhen/attendances.csv",
        BOOKWHEN_HEADER
        # Same title as the session with an Event ID: found by title and date.
        + "C1,Helping people become more active,14/07/2020 10:00,Hana,Test,hana@example.org,Social Prescribing Link Worker,No\n"
        # A session without a reference: only title and date can link it.
        + "C2,Physical Activity in Clinical Care,21/07/2020 13:30,Ivo,Test,ivo@example.org,Health & Wellbeing Coach,Yes\n"
        # Right title, wrong date: no such session.
        + "C3,Physical activity in clinical care,28/07/2020 13:30,Jo,Test,jo@example.org,Patient Care Co-ordinator,Yes\n",
    )
    staged = stage(
        ("eventbrite", "eventbrite", "eb/*.csv", {}),
        ("bookwhen", "mapped_csv", "bookwhen/*.csv", BOOKWHEN_OPTIONS),
    )
    assert dict(zip(staged.rows["job_title"], staged.rows["session_key"])) == {
        "Band 6 Physio": SESSION_BY_REF,
        "Social Prescribing Link Worker": SESSION_BY_REF,
        "Health & Wellbeing Coach": SESSION_BY_TITLE,
    }
    [unlinked] = staged.quarantine.to_dict("records")
    assert (unlinked["source_file"], unlinked["source_row"], unlinked["rule"]) == (
        "bookwhen/attendances.csv",
        4,
        "session_unknown",
    )
    assert unlinked["value"] == "Physical activity in clinical care on 28/07/2020"
    assert "links to no known session" in unlinked["reason"]
    accounting = assert_balanced(staged)
    assert accounting.loc["bookwhen/attendances.csv", ["rows_loaded", "rows_quarantined"]].tolist() == [2, 1]


def test_event_id_without_a_session_is_quarantined(write_export, stage):
    write_export(
        "eb/attendees.csv",
        EB_HEADER
        + eb_row(201, "Aisha", "aisha@example.org", "Checked In", "Band 6 Physio").replace(EVENT_ID, "999000111"),
    )
    staged = stage(("eventbrite", "eventbrite", "eb/*.csv", {}))
    assert staged.rows.empty
    assert staged.quarantine[["rule", "value"]].to_dict("records") == [
        {"rule": "session_unknown", "value": "999000111"}
    ]
    assert_balanced(staged)


def test_info_requested_without_email_is_quarantined_with_the_reason(write_export, stage):
    write_export(
        "eb/attendees.csv",
        EB_HEADER
        + eb_row(201, "Info Requested", "", "Attending", "", last="Info Requested")
        + eb_row(202, "Aisha", "", "Checked In", "Band 6 Physio", last="Example")  # a name still identifies
        + eb_row(203, "Ben", "ben@example.org", "Attending", "Practice Nurse"),
    )
    staged = stage(("eventbrite", "eventbrite", "eb/*.csv", {}))
    assert status_by_job(staged) == {"Band 6 Physio": "attended", "Practice Nurse": "booked"}
    [record] = staged.quarantine.to_dict("records")
    assert (record["source_file"], record["source_row"], record["rule"], record["column_name"]) == (
        "eb/attendees.csv",
        2,
        "person_unattributable",
        "email",
    )
    assert record["reason"] == UNATTRIBUTABLE
    assert "Info Requested" in record["reason"]
    accounting = assert_balanced(staged)
    assert accounting.loc["eb/attendees.csv", ["rows_read", "rows_loaded", "rows_quarantined"]].tolist() == [3, 2, 1]


def test_booking_professions_and_role_groups(write_export, stage):
    write_export(
        "eb/attendees.csv",
        EB_HEADER
        + eb_row(201, "Aisha", "aisha@example.org", "Checked In", "Band 6 Physio")
        + eb_row(202, "Ben", "ben@example.org", "Checked In", "Chief Imagination Officer"),
    )
    rows = stage(("eventbrite", "eventbrite", "eb/*.csv", {})).rows
    assert rows[["profession", "role_group"]].values.tolist() == [
        ["physiotherapist", "health_and_social_care"],
        ["unclassified", "unclassified"],
    ]


# --- survey responses ------------------------------------------------------------------------------

SM_HEADER = (
    "Respondent ID,Collector ID,Start Date,End Date,IP Address,Email Address,First Name,Last Name,Custom Data 1,"
    "How useful was today's session to your role?,What is your job title?,Where do you work?\n"
    ",,,,,,,,,Response,Open-Ended Response,Response\n"
)


def sm_row(respondent: int, useful: str, job: str, where: str) -> str:
    return f"{respondent},254968215,07/31/2020 04:15:02 PM,07/31/2020 04:21:36 PM,,,,,,{useful},{job},{where}\n"


def test_surveymonkey_same_respondent_in_two_exports_is_one_response(
    write_export, data_dir, make_source, raw_export, reference_tables
):
    write_export(
        "sm/feedback-2020-08-01.csv",
        SM_HEADER + sm_row(101, "9", "PWP", "Hospital") + sm_row(102, "7", "Practice Nurse", "GP practice"),
    )
    write_export(
        "sm/feedback-2020-09-01.csv",
        SM_HEADER
        + sm_row(101, "9", "PWP", "Hospital")
        + sm_row(102, "8", "Practice Nurse", "GP practice")  # the respondent edited an answer
        + sm_row(103, "10 - Extremely useful", "Library assistant", "Council"),
    )
    export = raw_export(make_source("feedback", "surveymonkey", "sm/*.csv"), data_dir)
    staged = stage_survey("feedback", [export], reference_tables)
    rows = staged.rows.set_index("response_id")
    assert sorted(rows.index) == ["101", "102", "103"]
    assert rows.loc["102", "usefulness"] == 8  # the later export wins
    assert rows.loc["102", "source_file"] == "sm/feedback-2020-09-01.csv"
    assert len(staged.duplicates) == 2
    accounting = assert_balanced(staged)
    assert accounting.loc["sm/feedback-2020-08-01.csv", ["rows_loaded", "rows_duplicate"]].tolist() == [0, 2]


GOOGLE_HEADER = (
    "Timestamp,Email address,How useful has the training been to your role?,"
    '"Since the training, how often do you have conversations about physical activity?",Where do you work?,What is your job title?\n'
)


def test_google_identical_rows_are_one_response_but_one_changed_answer_is_two(
    write_export, data_dir, make_source, raw_export, reference_tables
):
    a = "14/06/2021 10:10:09,erin@example.org,8,Much more often,GP practice,Practice Nurse\n"
    b = "15/06/2021 11:00:00,fin@example.org,6,About the same,Hospital,Band 6 Physio\n"
    b_changed = "15/06/2021 11:00:00,fin@example.org,6,Slightly more often,Hospital,Band 6 Physio\n"
    c = "20/06/2021 09:30:00,,9,Much more often,,PWP\n"
    write_export("gf/download-2021-06-16.csv", GOOGLE_HEADER + a + b)
    write_export("gf/download-2021-06-30.csv", GOOGLE_HEADER + a + b_changed + c)
    export = raw_export(make_source("followup", "google_forms", "gf/*.csv"), data_dir)
    staged = stage_survey("followup", [export], reference_tables)
    assert len(staged.rows) == 4
    assert sorted(staged.rows["conversations"]) == ["much_more", "much_more", "same", "slightly_more"]
    assert staged.duplicates[["source_file", "source_row", "kept_file", "kept_row"]].values.tolist() == [
        ["gf/download-2021-06-16.csv", 2, "gf/download-2021-06-30.csv", 2],
    ]
    accounting = assert_balanced(staged)
    assert accounting["rows_loaded"].tolist() == [1, 3]


def test_google_form_download_and_sheet_export_of_one_response_are_one(
    exports_dir, make_source, raw_export, reference_tables
):
    """`2021/06/14 10:10:09 AM GMT+1` and the UK sheet's `14/06/2021 10:10:09` are the same instant."""
    export = raw_export(make_source("followup", "google_forms", "google_forms/*/*.csv"), exports_dir)
    staged = stage_survey("followup", [export], reference_tables)
    assert len(staged.rows) == 3
    assert sorted(staged.rows["submitted_at"].dt.strftime("%Y-%m-%d %H:%M:%S")) == [
        "2021-01-05 15:04:05",
        "2021-06-14 10:10:09",
        "2021-07-02 16:45:00",
    ]
    assert len(staged.duplicates) == 1
    # Erin (in both files), Fin and Gita: three people.
    assert staged.rows["person_key"].nunique() == 3
    assert_balanced(staged)


def test_survey_setting_and_profession(write_export, data_dir, make_source, raw_export, reference_tables):
    write_export(
        "gf/responses.csv",
        GOOGLE_HEADER
        + "14/06/2021 10:10:09,,8,Much more often,Community health services,Health & Wellbeing Coach\n"
        + "14/06/2021 10:11:00,,8,Much more often,,\n",
    )
    staged = stage_survey(
        "followup", [raw_export(make_source("followup", "google_forms", "gf/*.csv"), data_dir)], reference_tables
    )
    assert staged.rows[["setting_answer", "setting", "profession", "role_group"]].values.tolist() == [
        ["Community health services", "community_health", "health_and_wellbeing_coach", "link_workers"],
        ["", "unknown", "", ""],  # no job title given: not classified at all
    ]


def test_survey_quarantine_from_reading_is_carried_and_accounted(
    exports_dir, make_source, raw_export, reference_tables
):
    source = make_source("feedback", "surveymonkey", "surveymonkey/*/*.csv")
    staged = stage_survey("feedback", [raw_export(source, exports_dir)], reference_tables)
    assert len(staged.rows) == 4
    assert sorted(staged.quarantine["source_row"]) == [4, 5, 6]
    accounting = assert_balanced(staged)
    assert accounting["rows_quarantined"].tolist() == [0, 3]


# --- pseudonyms ----------------------------------------------------------------------------------------


def people_frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_same_email_in_any_case_or_spacing_is_the_same_person():
    frame = people_frame(
        email=["Aisha.Example@Example.org", "  aisha.example@example.ORG ", "ben@example.org"],
        first_name=["Aisha", "A", "Ben"],
        last_name=["Example", "Example", "Sample"],
    )
    keys = attach_person_keys(frame, TEST_KEY, TEST_PARTNERSHIP)["person_key"].tolist()
    assert keys[0] == keys[1]
    assert keys[0] != keys[2]
    assert all(len(k) == 64 for k in keys)


def test_a_different_key_gives_different_pseudonyms_and_key_version():
    frame = people_frame(email=["aisha.example@example.org"], first_name=["Aisha"], last_name=["Example"])
    one = attach_person_keys(frame, TEST_KEY, TEST_PARTNERSHIP)
    two = attach_person_keys(frame, b"another-key", TEST_PARTNERSHIP)
    assert one["person_key"].iat[0] != two["person_key"].iat[0]
    assert one["key_version"].iat[0] == key_version(TEST_KEY) != two["key_version"].iat[0]
    assert TEST_KEY.decode() not in one["key_version"].iat[0]


def test_personal_columns_do_not_survive_and_nothing_personal_leaks():
    frame = people_frame(
        email=["aisha.example@example.org", "", ""],
        first_name=["Aisha", "Ben", "Info Requested"],
        last_name=["Example", "Sample", "Info Requested"],
        job_title=["Band 6 Physio", "Practice Nurse", ""],
    )
    keyed = attach_person_keys(frame, TEST_KEY, TEST_PARTNERSHIP)
    assert not set(PERSONAL_COLUMNS) & set(keyed.columns)
    assert list(keyed.columns) == ["job_title", "person_key", "key_version"]
    text = keyed.to_csv(index=False).lower()
    assert "aisha" not in text and "example.org" not in text and "sample" not in text
    # No email: the name identifies within the partnership; a placeholder identifies no one.
    assert keyed["person_key"].iat[1] != ""
    assert keyed["person_key"].iat[2] == ""


def test_name_only_identity_is_scoped_to_the_partnership():
    frame = people_frame(email=[""], first_name=["Ben"], last_name=["Sample"])
    here = attach_person_keys(frame, TEST_KEY, "partnership_a")["person_key"].iat[0]
    there = attach_person_keys(frame, TEST_KEY, "partnership_b")["person_key"].iat[0]
    assert here and there and here != there
    by_email = people_frame(email=["ben@example.org"], first_name=["Ben"], last_name=["Sample"])
    assert (
        attach_person_keys(by_email, TEST_KEY, "partnership_a")["person_key"].iat[0]
        == attach_person_keys(by_email, TEST_KEY, "partnership_b")["person_key"].iat[0]
    )


# --- classification with the real reference tables ---------------------------------------------------


@pytest.mark.parametrize(
    ("job_title", "profession", "role_group"),
    [
        ("Band 6 Physio", "physiotherapist", "health_and_social_care"),
        ("Practice Nurse", "nurse", "health_and_social_care"),
        ("Social Prescribing Link Worker", "social_prescriber", "link_workers"),
        ("Health & Wellbeing Coach", "health_and_wellbeing_coach", "link_workers"),
        ("Patient Care Co-ordinator", "care_coordinator", "link_workers"),
        ("PWP", "psychological_wellbeing_practitioner", "talking_therapies"),
        ("High Intensity CBT Therapist", "psychological_therapist", "talking_therapies"),
        ("Volunteer befriender", "volunteer", "third_sector_volunteers_council"),
        ("Library assistant", "library_worker", "third_sector_volunteers_council"),
        ("Housing support officer", "housing_support", "third_sector_volunteers_council"),
        ("Chief Imagination Officer", "unclassified", "unclassified"),
        ("", "unclassified", "unclassified"),
    ],
)
def test_job_title_classification(reference_tables, job_title, profession, role_group):
    assert reference_tables.profession(job_title) == profession
    assert reference_tables.role_group_of[profession] == role_group


@pytest.mark.parametrize(
    ("job_title", "role_group"),
    [
        ("band 6 physio", "health_and_social_care"),
        ("  Social   Prescribing Link Worker ", "link_workers"),
        ("Health and Wellbeing Coach", "link_workers"),
        ("Patient Care Coordinator", "link_workers"),
        ("pwp", "talking_therapies"),
    ],
)
def test_job_title_classification_ignores_case_and_spacing(reference_tables, job_title, role_group):
    assert reference_tables.role_group_of[reference_tables.profession(job_title)] == role_group


@pytest.mark.parametrize(
    ("answer", "setting"),
    [
        ("GP practice", "gp_practice"),
        ("GP surgery", "gp_practice"),
        ("Hospital", "hospital"),
        ("Charity or voluntary sector", "charity_voluntary"),
        ("Local authority (council)", "local_authority"),
        ("Community health services", "community_health"),
        ("  gp PRACTICE ", "gp_practice"),
        ("Other", "other"),
        ("A leisure centre", "other"),
        ("", "unknown"),
        ("   ", "unknown"),
    ],
)
def test_setting_classification(reference_tables, answer, setting):
    assert reference_tables.setting(answer) == setting


def test_classify_series_keeps_length_and_order(reference_tables):
    titles = pd.Series(["PWP", None, "Practice Nurse", "PWP"])
    assert reference_tables.classify_professions(titles).tolist() == [
        "psychological_wellbeing_practitioner",
        "unclassified",
        "nurse",
        "psychological_wellbeing_practitioner",
    ]


def test_identical_rows_in_one_download_are_separate_responses(
    write_export, data_dir, make_source, raw_export, reference_tables
):
    """Two colleagues trained the same day, gave the same answers, wrote nothing, left no email.

    Each download has them twice: two responses. The later download repeats both (and adds a
    third copy, a third colleague): the k-th identical row of one file is the k-th of the other.
    """
    same = "14/06/2021 00:00:00,,8,Much more often,GP practice,Practice Nurse\n"
    other = "15/06/2021 11:00:00,fin@example.org,6,About the same,Hospital,Band 6 Physio\n"
    write_export("gf/download-2021-06-16.csv", GOOGLE_HEADER + same + other + same)
    write_export("gf/download-2021-06-30.csv", GOOGLE_HEADER + same + same + other + same)
    export = raw_export(make_source("followup", "google_forms", "gf/*.csv"), data_dir)
    staged = stage_survey("followup", [export], reference_tables)
    assert sorted(staged.rows["conversations"]) == ["much_more", "much_more", "much_more", "same"]
    assert sorted(staged.duplicates[["source_file", "source_row", "kept_file", "kept_row"]].values.tolist()) == [
        ["gf/download-2021-06-16.csv", 2, "gf/download-2021-06-30.csv", 2],  # 1st copy ↔ 1st copy
        ["gf/download-2021-06-16.csv", 3, "gf/download-2021-06-30.csv", 4],  # fin ↔ fin
        ["gf/download-2021-06-16.csv", 4, "gf/download-2021-06-30.csv", 3],  # 2nd copy ↔ 2nd copy
    ]
    accounting = assert_balanced(staged)
    assert accounting["rows_loaded"].tolist() == [0, 4]
    assert accounting["rows_duplicate"].tolist() == [3, 0]
