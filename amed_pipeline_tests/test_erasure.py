"""Scope: erasure. `forget` removes one real sample person from the warehouse at once, records
that it happened without recording who, and no later run brings them back while their raw rows
still exist: not the next nightly run, and not a run after the pseudonym key is rotated.

The story runs once per module on the bundled sample data (nightly run → forget → nightly run →
rekey) into a temporary warehouse, with the erasure list and its generated key in a temporary
dir. Smaller tests cover the parts on their own: a list without its key fails closed, forgetting
by name, and the command line never printing the address it was given.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections import Counter

import dagster as dg
import pandas as pd
import pytest

from amed_pipeline.commands.privacy import forget, rekey
from amed_pipeline.config import load_programme_config
from amed_pipeline.defs.erasure_list import ErasureListResource
from amed_pipeline.landing.erasure import drop_erased
from amed_pipeline.lib.text import normalise_email
from amed_pipeline.privacy.erasure import (
    ERASED_RULE,
    ErasureListError,
    add_identity,
    email_identity,
    erased_tokens,
    name_identity,
)
from amed_pipeline.privacy.key_guard import REKEY_TAG
from amed_pipeline.reading.parse import read_source
from amed_pipeline.staging.people import hmac_hex, identity_texts, key_version
from amed_pipeline_tests.pipeline_runs import (
    PROJECT_ROOT,
    SAMPLE_DATA_DIR,
    TEST_KEY,
    env,
    metric,
    read_table,
    run_nightly_in_process,
)

NEW_KEY = "test-pseudonym-key-after-rotation"
# Every table with a person column, the landing layer included (forget must reach all of them).
PERSON_TABLES = (
    "dim_person",
    "fact_booking",
    "fact_feedback",
    "fact_followup",
    "landing_bookings",
    "landing_feedback",
    "landing_followup",
)


def raw_rows_by_email() -> tuple[Counter, dict[str, set[str]]]:
    """How many rows each email has among the rows the pipeline reads, and in which datasets."""
    counts: Counter = Counter()
    datasets: dict[str, set[str]] = {}
    for source in load_programme_config(SAMPLE_DATA_DIR).sources():
        rows = read_source(source, SAMPLE_DATA_DIR).rows
        if "email" not in rows:
            continue
        for email in rows["email"].astype(str).map(normalise_email):
            if "@" in email:
                counts[email] += 1
                datasets.setdefault(email, set()).add(source.dataset)
    return counts, datasets


def person_rows(url: str, person_key: str) -> dict[str, int]:
    return {t: int((read_table(url, t)["person_key"] == person_key).sum()) for t in PERSON_TABLES}


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    base = tmp_path_factory.mktemp("erasure")
    url = f"duckdb:///{base}/warehouse.duckdb"
    exports = base / "exports"
    list_path = base / "secrets" / "erasure_list.txt"
    counts, datasets = raw_rows_by_email()
    # A real sample person who booked and answered a survey, with the most raw rows.
    email = max((e for e in counts if {"bookings"} < datasets[e]), key=lambda e: (counts[e], e))
    person_key = hmac_hex(TEST_KEY.encode(), email_identity(email))
    story = {"url": url, "email": email, "person_key": person_key, "raw_rows": counts[email], "list": list_path}
    with env(AMED_ERASURE_LIST=list_path, AMED_WAREHOUSE_URL=url, AMED_PSEUDONYM_KEY=TEST_KEY):
        os.environ.pop("AMED_ERASURE_KEY", None)
        assert run_nightly_in_process(SAMPLE_DATA_DIR, url, exports).success
        story["before"] = person_rows(url, person_key)
        story["people_before"] = metric(read_table(url, "metric_values"), "people_trained")["value"]
        story["attended"] = bool(
            (
                (read_table(url, "fact_booking")["person_key"] == person_key)
                & (read_table(url, "fact_booking")["status"] == "attended")
            ).any()
        )
        output: list[str] = []
        story["forget_code"] = forget(email_identity(" " + email.upper() + " "), echo=output.append)
        story["forget_output"] = "\n".join(output)
        story["after_forget"] = person_rows(url, person_key)
        story["erasure_log"] = read_table(url, "erasure_log")
        assert run_nightly_in_process(SAMPLE_DATA_DIR, url, exports).success
        story["after_rerun"] = person_rows(url, person_key)
        story["quarantine"] = read_table(url, "quarantine")
        story["ledger"] = read_table(url, "ingest_ledger")
        story["people_after"] = metric(read_table(url, "metric_values"), "people_trained")["value"]
        rekey_output: list[str] = []
        with env(AMED_PSEUDONYM_KEY=NEW_KEY):
            story["rekey_code"] = rekey(
                lambda: (
                    0
                    if run_nightly_in_process(
                        SAMPLE_DATA_DIR, url, exports, key=NEW_KEY, tags={REKEY_TAG: "true"}
                    ).success
                    else 1
                ),
                echo=rekey_output.append,
            )
        story["rekey_output"] = "\n".join(rekey_output)
        story["after_rekey"] = person_rows(url, hmac_hex(NEW_KEY.encode(), email_identity(email)))
        story["dim_person_after_rekey"] = read_table(url, "dim_person")
        story["quarantine_after_rekey"] = read_table(url, "quarantine")
    return story


def test_the_chosen_person_is_really_in_the_warehouse_first(story):
    assert story["before"]["fact_booking"] > 0 and story["before"]["dim_person"] == 1
    assert story["before"]["fact_feedback"] + story["before"]["fact_followup"] > 0


def test_forget_deletes_their_rows_at_once_and_logs_the_erasure_without_identity(story):
    assert story["forget_code"] == 0
    assert sum(story["after_forget"].values()) == 0, story["after_forget"]
    log = story["erasure_log"]
    assert list(log.columns) == ["erased_on", "rows_deleted", "tables_affected", "list_entries"]
    assert len(log) == 1
    assert log["rows_deleted"].iat[0] == sum(story["before"].values())
    assert log["tables_affected"].iat[0] == sum(1 for n in story["before"].values() if n)
    text = log.astype(str).to_csv(index=False).lower()
    assert story["email"] not in text and story["person_key"] not in text


def test_forget_never_prints_the_email_or_the_pseudonym(story):
    output = story["forget_output"].lower()
    assert "deleted" in output and "erasure list" in output
    local_part = story["email"].split("@")[0]
    assert local_part not in output and story["person_key"] not in output


def test_the_erasure_list_holds_neither_the_email_nor_the_pseudonym_and_is_private(story):
    path = story["list"]
    text = path.read_text(encoding="utf-8").lower()
    assert story["email"] not in text and story["email"].split("@")[0] not in text
    assert story["person_key"] not in text, "a list entry must not join to the warehouse"
    assert len([line for line in text.splitlines() if line and not line.startswith("#")]) == 1
    for secret in (path, path.with_name("erasure.key")):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret.name


def test_the_next_run_does_not_bring_them_back(story):
    assert sum(story["after_rerun"].values()) == 0, story["after_rerun"]
    erased = story["quarantine"][story["quarantine"]["rule"] == ERASED_RULE]
    assert len(erased) == story["raw_rows"], "every raw row of theirs is accounted for as erased"
    assert (erased["column_name"] == "").all() and (erased["value"] == "").all()
    assert not erased["reason"].str.contains(story["email"].split("@")[0], case=False).any()


def test_row_accounting_still_balances_and_they_no_longer_count(story):
    ledger = story["ledger"]
    balance = ledger["rows_loaded"] + ledger["rows_quarantined"] + ledger["rows_duplicate"]
    assert (ledger["rows_read"] == balance).all(), ledger[ledger["rows_read"] != balance]
    assert story["people_after"] == story["people_before"] - (1 if story["attended"] else 0)


def test_erasure_survives_rotating_the_pseudonym_key(story):
    assert story["rekey_code"] == 0, story["rekey_output"]
    assert set(story["dim_person_after_rekey"]["key_version"]) == {key_version(NEW_KEY.encode())}
    assert sum(story["after_rekey"].values()) == 0, story["after_rekey"]
    erased = story["quarantine_after_rekey"]["rule"] == ERASED_RULE
    assert erased.sum() == story["raw_rows"]
    assert "erasure list unaffected" in story["rekey_output"]


def test_a_list_whose_key_is_missing_or_different_fails_closed(tmp_path, monkeypatch):
    path = tmp_path / "erasure_list.txt"
    add_identity(path, b"the-erasure-key", email_identity("someone@example.org"), pd.Timestamp("2024-01-02").date())
    assert len(erased_tokens(path, b"the-erasure-key")) == 1
    with pytest.raises(ErasureListError, match="key is missing"):
        erased_tokens(path, None)
    # In a run: the step fails, without retries (waiting cannot bring a key back).
    with pytest.raises(dg.Failure, match="key is missing") as failure:
        ErasureListResource(path=str(path)).load()
    assert failure.value.allow_retries is False
    with pytest.raises(dg.Failure, match="refusing to load"):
        ErasureListResource(path=str(path), key="another-key").load()
    assert ErasureListResource(path=str(tmp_path / "none.txt")).load() == (frozenset(), None)
    # `forget` does not paper over a lost key with a new one.
    monkeypatch.setenv("AMED_ERASURE_LIST", str(path))
    monkeypatch.delenv("AMED_ERASURE_KEY", raising=False)
    output: list[str] = []
    assert forget(email_identity("another@example.org"), echo=output.append) == 2
    assert "key is missing" in output[0] and not (tmp_path / "erasure.key").exists()


def test_forgetting_by_name_matches_rows_that_have_no_email_within_that_partnership():
    from amed_pipeline.privacy.erasure import erasure_token

    rows = pd.DataFrame(
        {
            "partnership_id": ["leap", "leap"],
            "source_name": ["bookings_mapped_csv"] * 2,
            "source_file": ["raw/leap/sign_in/a.xlsx"] * 2,
            "source_row": [2, 3],
            "email": ["", ""],
            "first_name": [" Ann ", "Ben"],
            "last_name": ["O'Brien", "Sample"],
        }
    )
    identity = name_identity("leap", "ann", "o'brien")
    assert identity == identity_texts(rows.iloc[[0]], "leap").iat[0]
    key = b"erasure-key"
    tokens = frozenset({erasure_token(key, identity)})
    kept, quarantined = drop_erased(rows, tokens, key, "leap", "bookings")
    assert kept["first_name"].tolist() == ["Ben"]
    assert quarantined["source_row"].tolist() == [2]
    assert set(quarantined["rule"]) == {ERASED_RULE} and set(quarantined["value"]) == {""}
    # Names identify within a partnership only: another partnership's Ann O'Brien is someone else.
    elsewhere = rows.assign(partnership_id="get_berkshire_active")
    kept, quarantined = drop_erased(elsewhere, tokens, key, "get_berkshire_active", "bookings")
    assert len(kept) == 2 and quarantined.empty


def test_the_forget_command_reads_the_address_from_stdin_and_never_prints_it(tmp_path):
    environment = {
        **os.environ,
        "AMED_ERASURE_LIST": str(tmp_path / "secrets" / "erasure_list.txt"),
        "AMED_WAREHOUSE_URL": f"duckdb:///{tmp_path}/no_warehouse_yet.duckdb",
        "AMED_PSEUDONYM_KEY": TEST_KEY,
    }
    environment.pop("AMED_ERASURE_KEY", None)
    email = "Private.Person@example.org"
    completed = subprocess.run(
        [sys.executable, "-m", "amed_pipeline", "forget", "--email", "-"],
        input=email + "\n",
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "added the person to the erasure list" in completed.stdout
    assert "private.person" not in (completed.stdout + completed.stderr).lower()
    refused = subprocess.run(
        [sys.executable, "-m", "amed_pipeline", "forget", "--email", "not-an-address"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2 and "not-an-address" not in refused.stdout + refused.stderr


def test_rekey_can_replace_the_generated_key_file_but_not_a_key_from_the_environment(tmp_path, monkeypatch):
    key_file = tmp_path / "keys" / "pseudonym.key"
    key_file.parent.mkdir()
    key_file.write_text("old-generated-key\n", encoding="utf-8")
    monkeypatch.setenv("AMED_PSEUDONYM_KEY_FILE", str(key_file))
    monkeypatch.setenv("AMED_WAREHOUSE_URL", f"duckdb:///{tmp_path}/no_warehouse_yet.duckdb")
    monkeypatch.delenv("AMED_PSEUDONYM_KEY", raising=False)
    refreshed, output = [], []
    assert rekey(lambda: refreshed.append(True) or 0, generate_key=True, echo=output.append) == 0
    new_key = key_file.read_text(encoding="utf-8").strip()
    assert refreshed and new_key != "old-generated-key" and len(new_key) == 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert new_key not in "\n".join(output), "the key itself is never printed"
    monkeypatch.setenv("AMED_PSEUDONYM_KEY", "from-the-environment")
    assert rekey(lambda: 0, generate_key=True, echo=output.append) == 2
    assert key_file.read_text(encoding="utf-8").strip() == new_key
