"""The API sources `partnerships.yaml` can declare beside the file formats, and their options.

Kept in `config` so the loader can validate an API source before anything is pulled, and so
`reading` and `pulling` share one list (the format names themselves are `amed_pipeline.vocabulary`). An API source names its secret only by
the environment variable that holds it (`token_env`): a token written into the YAML is a config
error, because the YAML is committed and shared. Its files are the raw page snapshots the pull
wrote under the data dir (`raw/<partnership>/api/<source>/<UTC timestamp>/page-0001.json`), or
for `graph_drive` the files it landed (`raw/<partnership>/api/<source>/files/`), so `path` is
optional and derived.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from amed_pipeline.vocabulary import API_FORMATS, DATASETS, FILE_FORMATS

# The datasets and the file and API formats themselves are the ground-floor vocabulary.
FILE_FORMATS_READABLE_FROM_DRIVE = FILE_FORMATS

DEFAULT_BASE_URLS = {
    "eventbrite_api": "https://www.eventbriteapi.com/v3",
    "surveymonkey_api": "https://api.surveymonkey.com/v3",
    "google_forms_api": "https://forms.googleapis.com/v1",
    "graph_drive": "https://graph.microsoft.com/v1.0",
}
# The ids each API needs (all required).
REQUIRED_IDS = {
    "eventbrite_api": ("organization_id",),
    "surveymonkey_api": ("survey_id",),
    "google_forms_api": ("form_id",),
    "graph_drive": ("drive_id", "folder_path", "read_as"),
}
# Which datasets an API can feed.
API_DATASETS = {
    "eventbrite_api": ("bookings",),
    "surveymonkey_api": ("feedback", "followup"),
    "google_forms_api": ("feedback", "followup"),
    "graph_drive": DATASETS,
}
API_OPTION_NAMES = (
    "base_url",  # default: the real service; tests and the demo point it at 127.0.0.1
    "token_env",  # the NAME of the environment variable holding the token (never the token)
    "organization_id",
    "survey_id",
    "form_id",
    "drive_id",
    "folder_path",
    "read_as",  # graph_drive: the file format its files are read as
    "daily_request_budget",  # requests per token per UTC day (all sources sharing the token)
    "overlap_minutes",  # re-read window before the cursor on each pull
    "page_size",
    "backfill_from",  # the first pull's start (a date); default a year before the programme start
)
# SurveyMonkey private apps get 500 requests a day; stay well under by default.
DEFAULT_DAILY_REQUEST_BUDGET = 400
DEFAULT_OVERLAP_MINUTES = 30
# Bookings for the first sessions were made, and last changed, before the programme started: the
# first pull reaches back this far unless `backfill_from` says otherwise.
DEFAULT_BACKFILL_DAYS_BEFORE_START = 365
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
SNAPSHOT_GLOB = "*/page-*.json"
DRIVE_FILES_DIR = "files"


def is_api_format(fmt: str) -> bool:
    return fmt in API_FORMATS


def api_source_dir(partnership_id: str, source_name: str) -> str:
    """Where a source's snapshots live, relative to the data dir."""
    return f"raw/{partnership_id}/api/{source_name}"


def default_api_path(fmt: str, partnership_id: str, source_name: str) -> str:
    """The glob of what an API source's raw-export asset reads."""
    base = api_source_dir(partnership_id, source_name)
    return f"{base}/{DRIVE_FILES_DIR}/*" if fmt == "graph_drive" else f"{base}/{SNAPSHOT_GLOB}"


def check_api_options(options: dict[str, Any], dataset: str, fmt: str, where: str, error=ValueError) -> None:
    """Raise `error` naming the key for any mistake in an API source's options."""
    if dataset not in API_DATASETS[fmt]:
        raise error(f"{where}: key 'dataset': {fmt} feeds {', '.join(API_DATASETS[fmt])}, not {dataset}")
    token_env = options.get("token_env")
    if not isinstance(token_env, str) or not token_env:
        raise error(f"{where}: key 'options.token_env': missing; name the environment variable that holds the token")
    if not ENV_NAME.match(token_env):
        # A literal token would be committed with the YAML: refuse it, and never echo it back.
        raise error(
            f"{where}: key 'options.token_env': expected the NAME of an environment variable (A-Z, 0-9, _), "
            "not a token; put the token in that variable"
        )
    for key in ("token", "api_key", "access_token", "password", "secret"):
        if key in options:
            raise error(
                f"{where}: key 'options.{key}': tokens never go in the YAML; set options.token_env to a variable name"
            )
    for key in REQUIRED_IDS[fmt]:
        value = options.get(key)
        if value in (None, "") or not isinstance(value, (str, int)) or isinstance(value, bool):
            raise error(f"{where}: key 'options.{key}': missing; {fmt} needs {', '.join(REQUIRED_IDS[fmt])}")
    base_url = options.get("base_url")
    if base_url is not None and not (isinstance(base_url, str) and re.match(r"^https?://[^\s]+$", base_url)):
        raise error(f"{where}: key 'options.base_url': expected an http(s) URL")
    if isinstance(base_url, str) and "@" in base_url.split("//", 1)[-1].split("/", 1)[0]:
        raise error(f"{where}: key 'options.base_url': credentials in the URL are not allowed; use options.token_env")
    for key in ("daily_request_budget", "page_size"):
        value = options.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise error(f"{where}: key 'options.{key}': expected a whole number ≥ 1")
    overlap = options.get("overlap_minutes")
    if overlap is not None and (not isinstance(overlap, int) or isinstance(overlap, bool) or overlap < 0):
        raise error(f"{where}: key 'options.overlap_minutes': expected a whole number of minutes ≥ 0")
    backfill = options.get("backfill_from")
    if backfill is not None:
        try:
            dt.date.fromisoformat(str(backfill))
        except ValueError:
            raise error(f"{where}: key 'options.backfill_from': {backfill!r} is not a date (YYYY-MM-DD)") from None
    if fmt == "graph_drive" and options.get("read_as") not in FILE_FORMATS_READABLE_FROM_DRIVE:
        raise error(
            f"{where}: key 'options.read_as': {options.get('read_as')!r}; expected one of {', '.join(FILE_FORMATS_READABLE_FROM_DRIVE)}"
        )
    if fmt == "graph_drive" and options.get("read_as") == "mapped_csv" and not options.get("columns"):
        raise error(f"{where}: key 'options.columns': read_as mapped_csv needs a column mapping")
