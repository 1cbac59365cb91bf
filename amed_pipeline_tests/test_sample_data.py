"""Tests for the sample-data generator: calibration, determinism, layout, scaling.

The calibration tests recompute the published figures from the ground-truth model (not the
files), so they fail if the model drifts from the real programme; the mutation test proves
the check is not tautological.
"""

from __future__ import annotations

import glob
import hashlib
import time
from pathlib import Path

import pytest
import yaml

from amed_pipeline.sample_data import build_model, generate, ground_truth_summary, vocab
from amed_pipeline.sample_data.__main__ import main
from amed_pipeline.sample_data.generator import REPOSITORY_DATA_DIR
from amed_pipeline.sample_data.summary import REFERENCE_DIR, classify, load_mapping, load_rules

PUBLISHED = {
    "people_trained": 1301,
    "attendances": 1385,
    "sessions_delivered": 68,
    "first_session_month": "2020-07",
    "last_session_month": "2021-07",
    "months_with_sessions": 13,
    "session_titles_misclassified": 0,
    "attendances_by_training_type": {
        "helping_people_become_more_active": 596,
        "physical_activity_in_clinical_care": 540,
        "motivational_interviewing": 152,
        "bespoke_iapt": 97,
    },
    "people_by_role_group": {
        "health_and_social_care": 559,
        "third_sector_volunteers_council": 442,
        "link_workers": 156,
        "talking_therapies": 144,
    },
    "physio_clinical_care_attendances": 54,
    "feedback_responses": 462,
    "followup_responses": 139,
}


def file_hashes(root: Path) -> dict:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def scale_one(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scale1")
    generate(out, seed=2020, scale=1)
    return out


@pytest.fixture(scope="module")
def scale_two(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scale2")
    generate(out, seed=2020, scale=2)
    return out


def assert_calibrated(summary: dict) -> None:
    for key, expected in PUBLISHED.items():
        assert summary[key] == expected, key
    assert summary["sessions_not_delivered"] in (1, 2)
    assert summary["feedback_usefulness_mean"] > 8
    assert 8.35 <= summary["feedback_knowledge_mean"] < 8.45
    assert round(summary["feedback_confidence_mean"], 1) == 8.0
    assert summary["followup_usefulness_mean"] > 7
    assert round(100 * summary["followup_more_often_share"]) == 73
    by_setting = {k: round(100 * v) for k, v in summary["followup_more_often_share_by_setting"].items()}
    assert (by_setting["gp_practice"], by_setting["hospital"], by_setting["charity_voluntary"]) == (84, 82, 76)
    assert all(v < 76 for k, v in by_setting.items() if k not in ("gp_practice", "hospital", "charity_voluntary"))
    assert 5 <= summary["people_with_changed_role"] <= 10
    assert 10 <= summary["people_trained_by_two_partnerships"] <= 20
    assert summary["quarantined_records"] >= 3


@pytest.mark.parametrize("seed", [2020, 7])
def test_ground_truth_reproduces_the_published_evaluation(seed):
    assert_calibrated(ground_truth_summary(build_model(seed)))


def test_every_replica_of_a_scaled_sample_is_calibrated():
    # scale 2 = two copies each holding the whole programme
    assert_calibrated(ground_truth_summary(build_model(2020, replica=2, factor=1.0)))


def test_ground_truth_check_detects_a_lost_check_in():
    model = build_model(2020)
    checked_in = next(
        r
        for r in model.records
        if r.session.systems == ("eventbrite",) and r.final_status == "Checked In" and r.person is not None
    )
    checked_in.final_status = "Attending"
    summary = ground_truth_summary(model)
    assert (summary["people_trained"], summary["attendances"]) != (1301, 1385)


def test_same_seed_gives_byte_identical_files(tmp_path, scale_one):
    time.sleep(1.1)  # xlsx must not pick up the wall clock
    main(["--out", str(tmp_path), "--seed", "2020"])
    assert file_hashes(tmp_path) == file_hashes(scale_one)


def test_another_seed_gives_other_files(tmp_path, scale_one):
    generate(tmp_path, seed=2021)
    ours, theirs = file_hashes(tmp_path), file_hashes(scale_one)
    assert {str(Path(k).parent) for k in ours} == {str(Path(k).parent) for k in theirs}
    assert ours != theirs


def test_scale_one_copies_configuration_verbatim(scale_one):
    assert (scale_one / "partnerships.yaml").read_bytes() == (REPOSITORY_DATA_DIR / "partnerships.yaml").read_bytes()
    for table in (REPOSITORY_DATA_DIR / "reference").glob("*.csv"):
        assert (scale_one / "reference" / table.name).read_bytes() == table.read_bytes()


@pytest.mark.parametrize("sample", ["scale_one", "scale_two"])
def test_every_configured_glob_matches_a_file(sample, request):
    root = request.getfixturevalue(sample)
    config = yaml.safe_load((root / "partnerships.yaml").read_text(encoding="utf-8"))
    for partnership in config["partnerships"]:
        for source in partnership["sources"]:
            assert glob.glob(str(root / source["path"])), source["path"]


def test_only_raw_exports_and_configuration_are_written(scale_one):
    for path in scale_one.rglob("*"):
        if path.is_file():
            relative = path.relative_to(scale_one)
            assert relative.parts[0] in ("raw", "reference") or str(relative) == "partnerships.yaml"
            assert path.suffix in (".csv", ".xlsx", ".yaml")


def test_scale_two_adds_a_copy_of_each_partnership(scale_two):
    config = yaml.safe_load((scale_two / "partnerships.yaml").read_text(encoding="utf-8"))
    ids = [p["id"] for p in config["partnerships"]]
    assert ids == [
        "active_oxfordshire",
        "get_berkshire_active",
        "leap",
        "active_oxfordshire_2",
        "get_berkshire_active_2",
        "leap_2",
    ]
    copy = config["partnerships"][5]
    assert copy["name"] == "Leap 2"
    assert all(s["path"].startswith("raw/leap_2/") for s in copy["sources"])
    assert sorted(p.name for p in (scale_two / "raw").iterdir()) == sorted(ids)


def test_scaled_sample_refuses_to_overwrite_the_repository_config():
    with pytest.raises(ValueError):
        generate(REPOSITORY_DATA_DIR, scale=2)


def test_special_encodings_are_where_documented(scale_one):
    eventbrite = scale_one / "raw" / "active_oxfordshire" / "eventbrite"
    resaved = (eventbrite / "Attendees_Active_Medicine_2020-11-16.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        resaved.decode("utf-8")
    text = resaved.decode("cp1252")
    assert "Zoë,O’Brien" in text and "Renée" in text and "£0.00" in text
    for path in (scale_one / "raw" / "active_oxfordshire" / "surveymonkey_feedback").glob("*.csv"):
        assert path.read_bytes().startswith(b"\xef\xbb\xbfRespondent ID,")


def test_every_job_title_classifies_as_listed():
    rules = load_rules(REFERENCE_DIR / "job_title_rules.csv", "profession")
    role_of = load_mapping(REFERENCE_DIR / "professions.csv", "profession", "role_group")
    for profession, titles in vocab.JOB_TITLES.items():
        for title in titles:
            for variant in (title, title.lower(), title.upper(), f" {title} ", title.replace(" ", "  ")):
                assert classify(rules, variant, "unclassified") == profession, variant
    for title in vocab.UNCLASSIFIED_TITLES:
        assert classify(rules, title, "unclassified") == "unclassified", title
    for group, titles in vocab.PREVIOUS_JOB_TITLES.items():
        for title in titles:
            assert role_of[classify(rules, title, "unclassified")] != group, title


def test_every_session_title_classifies_as_its_training_type():
    rules = load_rules(REFERENCE_DIR / "training_type_rules.csv", "training_type")
    for training_type, titles in vocab.SESSION_TITLES.items():
        for title in titles:
            assert classify(rules, title, "other") == training_type, title


def test_vocabulary_fits_the_cp1252_export():
    for text in (*vocab.FIRST_NAMES, *vocab.SURNAMES, *(t for ts in vocab.SESSION_TITLES.values() for t in ts)):
        text.encode("cp1252")
