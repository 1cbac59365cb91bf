"""Scope: personal data in the places nobody looks (`privacy.redaction`, email normalisation,
survey respondent identity, erasure by either address, formula neutralisation).

Pure functions, tested on the texts real exports carry: contact details typed into free text
and into cells that cannot parse, and the variants one address takes in different systems.
"""

from __future__ import annotations

import string

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amed_pipeline.landing.erasure import drop_erased
from amed_pipeline.lib.text import normalise_email
from amed_pipeline.privacy.erasure import email_identity, erasure_token
from amed_pipeline.privacy.redaction import (
    KnownNames,
    known_name_digests,
    mask_series,
    mask_text,
    name_digest_column,
    redact_column,
    redact_free_text,
)
from amed_pipeline.reports.exports import neutralise_formula
from amed_pipeline.staging.people import attach_person_keys, identity_texts

KEY = b"test-key"
NAMES = KnownNames(
    KEY,
    frozenset(
        known_name_digests(KEY, pd.Series(["Amira", "Zoë", "Mary Ann"]), pd.Series(["Khan", "O’Brien", "de la Cruz"]))
    ),
)


# --- masking text that quotes input --------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("not a recognised date: 'someone@example.org'", "not a recognised date: '[email removed]'"),
        ("Checked In by amira.khan@nhs.net", "Checked In by [email removed]"),
        ("zoe.o'brien@example.org.", "[email removed]"),  # apostrophe in the local part, trailing dot
        ("x\u200b@example.org", "[email removed]"),  # a zero-width space inside
        ("Practice nurse (contact A.Khan@NHS.net)", "Practice nurse (contact [email removed])"),
        ("call 07700 900123", "call [phone removed]"),
        ("tel: 07700900123.", "tel: [phone removed]."),
        ("+44 7700 900123 or +44 (0)20 7946 0958", "[phone removed] or [phone removed]"),
        ("(01865) 123456, 0118-496-0000", "[phone removed], [phone removed]"),
        ("Hospital - OX1 2AB", "Hospital - [postcode removed]"),
        ("rg14 5ab / SW1A 1AA / M1 1AE", "[postcode removed] / [postcode removed] / [postcode removed]"),
    ],
)
def test_contact_details_are_masked(text, expected):
    assert mask_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2020-07-14 10:32:11+01:00",
        "07/31/2020 04:21:36 PM",
        "14/08/2020 10:00",
        "44027.4375",
        "1000000001",
        "11884840766",
        "356806-356797-1",
        "Band 6 Physio",
        "10 - Extremely useful",
        "rating 11 is outside 0–10",
        "id '5.96E+08' was mangled by Excel into scientific notation",
        "sam.hill(at)example.org",  # not an address any pattern knows: documented in SECURITY.md
        "Health & Wellbeing Coach, PCN",
    ],
)
def test_ordinary_values_are_left_alone(text):
    assert mask_text(text) == text


def test_known_full_names_are_removed_however_they_are_written():
    text = "email me or ask Amira Khan, AMIRA|KHAN, zoë o'brien, Zoe O'Brien or mary ann de la cruz"
    assert mask_text(text, NAMES) == (
        "email me or ask [name removed], [name removed], [name removed], Zoe O'Brien or [name removed]"
    )  # "Zoe" without the diaeresis is another spelling: not known


def test_a_strangers_name_and_a_first_name_alone_stay():
    assert mask_text("thanks to Jo Bloggs and Amira", NAMES) == "thanks to Jo Bloggs and Amira"


def test_without_a_key_or_digests_no_name_is_looked_for():
    assert not KnownNames() and not KnownNames(KEY, frozenset())
    assert mask_text("Amira Khan", KnownNames(KEY, frozenset())) == "Amira Khan"


def test_the_known_name_set_is_kept_as_keyed_digests_only():
    assert all(len(d) == 64 and "amira" not in d for d in NAMES.digests)
    other_key = KnownNames(b"another", NAMES.digests)
    assert mask_text("Amira Khan", other_key) == "Amira Khan"  # digests only match under their key


def test_name_digests_per_row_come_from_first_and_last_or_a_full_name_column():
    frame = pd.DataFrame(
        {
            "first_name": ["Amira", "", "Info Requested"],
            "last_name": ["Khan", "", ""],
            "respondent_name": ["", "Zoë O’Brien", ""],
        }
    )
    digests = name_digest_column(KEY, frame)
    assert set(digests[:2]) <= NAMES.digests and digests.iat[2] == ""


# --- redacting free text before it is stored ----------------------------------------------------


def test_redact_column_counts_each_kind_per_row_and_converts_each_distinct_value_once():
    values = pd.Series(
        ["Nurse (x@y.org, 07700 900123)", "Nurse (x@y.org, 07700 900123)", "GP", None, "Amira Khan, OX1 2AB"]
    )
    redacted, counts = redact_column(values, NAMES)
    assert redacted.tolist()[:3] == ["Nurse ([email removed], [phone removed])"] * 2 + ["GP"]
    assert pd.isna(redacted.iat[3]) and redacted.iat[4] == "[name removed], [postcode removed]"
    assert counts["email"].tolist() == [1, 1, 0, 0, 0] and counts["phone"].tolist() == [1, 1, 0, 0, 0]
    assert counts["name"].tolist() == [0, 0, 0, 0, 1] and counts["postcode"].tolist() == [0, 0, 0, 0, 1]


def test_redact_free_text_reports_counts_per_file_field_and_kind_without_values():
    rows = pd.DataFrame(
        {
            "source_file": ["a.csv", "a.csv", "b.csv"],
            "job_title": ["Practice nurse (contact x@y.org)", "GP", "OT, ring 07700 900123"],
            "setting": ["Hospital - x@y.org", "Hospital", "GP practice"],
        }
    )
    redacted, counts = redact_free_text(rows, ["job_title", "setting", "absent"], NAMES)
    assert redacted["job_title"].tolist() == [
        "Practice nurse (contact [email removed])",
        "GP",
        "OT, ring [phone removed]",
    ]
    assert sorted(map(tuple, counts.to_numpy().tolist())) == [
        ("a.csv", "job_title", "email", 1),
        ("a.csv", "setting", "email", 1),
        ("b.csv", "job_title", "phone", 1),
    ]


def test_mask_series_equals_mask_text_value_by_value():
    texts = ["'x@y.org' is not a date", "", None, "ok", "Amira Khan on 07700 900123"] * 30
    assert mask_series(pd.Series(texts), NAMES).tolist() == [mask_text("" if v is None else v, NAMES) for v in texts]


# --- email normalisation: one person stays one person -------------------------------------------

_LOCAL = st.text(alphabet=string.ascii_lowercase + string.digits + "._", min_size=1, max_size=12).filter(
    lambda s: s[0] not in "._" and s[-1] not in "._"
)
_DOMAIN = st.lists(st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=8), min_size=2, max_size=3).map(
    ".".join
)
_INVISIBLE = st.sampled_from(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"])


@st.composite
def variants(draw):
    """An address and a variant of it such as people and systems produce."""
    address = f"{draw(_LOCAL)}@{draw(_DOMAIN)}"
    variant = address
    if draw(st.booleans()):  # case changes
        variant = "".join(c.upper() if draw(st.booleans()) else c for c in variant)
    if draw(st.booleans()):  # full-width letters (NFKC folds them)
        variant = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() and draw(st.booleans()) else c for c in variant)
    for _ in range(draw(st.integers(0, 3))):  # zero-width and other format characters anywhere
        position = draw(st.integers(0, len(variant)))
        variant = variant[:position] + draw(_INVISIBLE) + variant[position:]
    variant += "." * draw(st.integers(0, 2))  # trailing dots on the domain
    variant = " " * draw(st.integers(0, 2)) + variant + draw(st.sampled_from(["", " ", "\t", "\u00a0"]))
    return address, variant


@settings(max_examples=300, deadline=None)
@given(variants())
def test_every_variant_of_an_address_is_the_same_person(pair):
    address, variant = pair
    assert normalise_email(variant) == address
    frame = pd.DataFrame({"email": [address, variant]})
    assert attach_person_keys(frame, KEY, "p")["person_key"].nunique() == 1
    assert email_identity(variant) == email_identity(address)


@pytest.mark.parametrize(
    "variant", ["x\u200b@example.org", "x@example.org.", "X@EXAMPLE.ORG", "ｘ@example.org", " x@example.org "]
)
def test_the_variants_the_issue_found_are_one_person(variant):
    assert normalise_email(variant) == "x@example.org"


# --- survey respondents: identity and erasure see every address a response carries --------------


def test_the_survey_tools_respondent_email_is_the_identity_where_the_form_is_not_anonymous():
    frame = pd.DataFrame(
        {
            "respondent_email": ["meg.ross@example.org", "anonymous", "", "anonymous"],
            "respondent_name": ["Meg Ross", "", "Ann Lee", ""],
            "email": ["", "kay.lee@example.org", "", ""],
        }
    )
    assert identity_texts(frame, "p").tolist() == [
        "email:meg.ross@example.org",
        "email:kay.lee@example.org",
        "name:p:ann lee",
        "",
    ]


def test_first_and_last_name_columns_identify_a_respondent_without_an_email():
    frame = pd.DataFrame({"respondent_email": [""], "first_name": ["Ann"], "last_name": ["Lee"], "email": [""]})
    assert identity_texts(frame, "p").tolist() == ["name:p:ann lee"]


def test_erasure_by_either_address_drops_the_response():
    erasure_key = b"erasure"
    tokens = frozenset({erasure_token(erasure_key, email_identity("kay.lee@example.org"))})
    rows = pd.DataFrame(
        {
            "respondent_email": ["meg.ross@example.org", "kay.lee@example.org", "x@example.org"],
            "email": ["kay.lee@example.org", "", ""],
            "source_file": ["f.xlsx"] * 3,
            "source_row": [2, 3, 4],
            "partnership_id": ["p"] * 3,
            "source_name": ["s"] * 3,
        }
    )
    kept, erased = drop_erased(rows, tokens, erasure_key, "p", "feedback")
    assert kept["source_row"].tolist() == [4] and erased["source_row"].tolist() == [2, 3]


# --- data-return injection ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [" =1+1", "  +1", "\t=1", " -2+3", " @SUM(A1)", "\u00a0=1+1", "=1+1"])
def test_leading_whitespace_before_a_formula_character_is_neutralised(value):
    assert neutralise_formula(value) == "'" + value


@pytest.mark.parametrize("value", ["GP", " GP", "1 = 1", "", 5])
def test_other_values_are_unchanged(value):
    assert neutralise_formula(value) == value


# --- names first known after the text landed ----------------------------------------------------


def test_a_name_read_after_the_text_is_swept_from_everything_landed_before(tmp_path):
    """Tonight's bookings name someone a comment landed last month mentions: the comment loses the name."""
    import sqlalchemy as sa

    from amed_pipeline.changes.state import forget_staged, staging_state
    from amed_pipeline.landing import tables as landing
    from amed_pipeline.privacy.redaction import name_digest, name_words
    from amed_pipeline.warehouse.schema import metadata

    engine = sa.create_engine(f"duckdb:///{tmp_path}/w.duckdb", poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(
            landing.landing_comment.insert(),
            [
                {
                    "partnership_id": "p",
                    "source_file": "f.csv",
                    "submitted_month": "2021-01",
                    "comment": "Amira Khan showed me how",
                },
                {
                    "partnership_id": "q",
                    "source_file": "g.csv",
                    "submitted_month": "2021-01",
                    "comment": "nothing to add",
                },
            ],
        )
        conn.execute(
            landing.landing_quarantine.insert(),
            [
                {
                    "partnership_id": "q",
                    "dataset": "bookings",
                    "source_name": "s",
                    "source_file": "h.csv",
                    "source_row": 3,
                    "rule": "unparseable_value",
                    "column_name": "Status",
                    "value": "by amira khan",
                    "reason": "'by amira khan' is not one of",
                }
            ],
        )
        conn.execute(
            staging_state.insert(),
            [{"partnership_id": "p", "fingerprint": "x"}, {"partnership_id": "q", "fingerprint": "y"}],
        )
        conn.execute(
            landing.landing_name.insert(),
            [
                {
                    "partnership_id": "q",
                    "source_file": "b.csv",
                    "name_digest": name_digest(KEY, name_words("Amira", "Khan")),
                }
            ],
        )
        names = KnownNames(KEY, landing.known_name_digests(conn))
        removed, touched = landing.sweep_known_names(conn, names)
        forget_staged(conn, touched)  # as the raw-exports step does after the sweep (defs/raw_exports.py)
        comments = (
            conn.execute(sa.select(landing.landing_comment.c.comment).order_by(landing.landing_comment.c.source_file))
            .scalars()
            .all()
        )
        quarantine = conn.execute(
            sa.select(landing.landing_quarantine.c.value, landing.landing_quarantine.c.reason)
        ).one()
        counts = conn.execute(sa.select(landing.landing_redaction)).mappings().all()
        staged = conn.execute(sa.select(staging_state.c.partnership_id)).scalars().all()
    engine.dispose()
    assert comments == ["[name removed] showed me how", "nothing to add"]
    assert tuple(quarantine) == ("by [name removed]", "'by [name removed]' is not one of")
    assert removed == 3 and touched == {"p", "q"}
    assert [(c["source_file"], c["field_name"], c["kind"], c["redactions"]) for c in counts] == [
        ("f.csv", "doing_differently", "name", 1)
    ]
    assert staged == []  # both partnerships are staged again from the cleaned text


def test_every_sample_ms_forms_response_with_a_respondent_email_gets_a_person():
    """The sample's MS Forms export: responses carrying the respondent's own address link to their person."""
    from amed_pipeline.config import load_programme_config
    from amed_pipeline.reading.parse import read_source
    from amed_pipeline_tests.pipeline_runs import SAMPLE_DATA_DIR

    source = next(s for s in load_programme_config(SAMPLE_DATA_DIR).sources("feedback") if s.format == "msforms")
    rows = read_source(source, SAMPLE_DATA_DIR).rows
    with_address = rows["respondent_email"].map(normalise_email).str.contains("@")
    identities = identity_texts(rows, source.partnership_id)
    assert with_address.sum() > 50
    assert (
        identities[with_address] == "email:" + rows.loc[with_address, "respondent_email"].map(normalise_email)
    ).all()
    assert (identities != "").sum() > with_address.sum()  # the optional question still counts where anonymous


_PIECES = st.sampled_from(
    [
        "Amira Khan",
        "zoë o'brien",
        "Mary Ann de la Cruz",
        "x@y.org",
        "a.b@nhs.net.",
        "07700 900123",
        "+44 (0)20 7946 0958",
        "(01865) 123456",
        "OX1 2AB",
        "rg145ab",
        "GP",
        "Band 6",
        "1000000001",
        "2020-07-14",
        "nurse",
        ",",
        " ",
        "-",
        "|",
        "\u200b",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_PIECES, max_size=6).map("".join), min_size=1, max_size=80))
def test_the_column_path_equals_the_per_value_masking(texts):
    """`redact_column` skips values a cheap whole-column test rules out: it must never skip one that holds something."""
    redacted, _ = redact_column(pd.Series(texts, dtype=object), NAMES)
    assert redacted.tolist() == [mask_text(t, NAMES) for t in texts]
