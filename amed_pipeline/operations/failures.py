"""Failed runs: a warehouse table, and alerts to a webhook or by e-mail.

The run-failure sensor (`amed_pipeline.defs.automation`) turns each failed Dagster run into one
`RunFailure`, records it in the warehouse table `run_failures` (so the data engineer can query
the history next to the data) and notifies whoever is configured. Only the run id, the job, the
time, the failed steps and the first line of the error are kept or sent: never a row, a name or
an e-mail address (addresses that appear in an error message are masked). A notification channel
that fails is logged, never raised, so a broken webhook cannot hide the failure it reports.

Channels are read at run time from `AMED_ALERT_*` variables (a field of `AlertsResource` left unset
is read from its variable when an alert is sent, never when definitions load):
`AMED_ALERT_WEBHOOK_URL` gets a JSON POST (its `text` field suits Slack and Teams incoming
webhooks); `AMED_ALERT_SMTP_HOST` + `AMED_ALERT_EMAIL_TO` get a plain-text e-mail.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import smtplib
import socket
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Optional

import dagster as dg
from sqlalchemy import Column, Connection, DateTime, String, Table, Text, delete, insert

from amed_pipeline.warehouse.schema import metadata

WEBHOOK_URL_VAR = "AMED_ALERT_WEBHOOK_URL"
SMTP_HOST_VAR = "AMED_ALERT_SMTP_HOST"
SMTP_PORT_VAR = "AMED_ALERT_SMTP_PORT"
EMAIL_TO_VAR = "AMED_ALERT_EMAIL_TO"
EMAIL_FROM_VAR = "AMED_ALERT_EMAIL_FROM"
CODE_LOCATION = "amed_pipeline"
MAX_ERROR_CHARS = 500
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")

# One row per failed run (a re-run that fails again is a new run id, so a new row).
run_failures = Table(
    "run_failures",
    metadata,
    Column("run_id", String, primary_key=True),
    Column("job_name", String, nullable=False),
    Column("failed_at", DateTime, nullable=False),  # UTC
    Column("failed_steps", Text, nullable=False),  # comma-separated step keys, "" when the run failed outside a step
    Column("error", Text, nullable=False),  # first line of the error, addresses masked
)


@dataclass(frozen=True)
class RunFailure:
    run_id: str
    job_name: str
    failed_at: dt.datetime  # naive UTC
    error: str
    failed_steps: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        steps = f" (steps: {', '.join(self.failed_steps)})" if self.failed_steps else ""
        return f"{CODE_LOCATION}: run {self.run_id} of {self.job_name} failed at {self.failed_at:%Y-%m-%d %H:%M} UTC{steps}: {self.error}"

    def payload(self) -> dict:
        return {
            "text": self.summary(),
            "event": "dagster_run_failure",
            "code_location": CODE_LOCATION,
            "run_id": self.run_id,
            "job": self.job_name,
            "failed_at": self.failed_at.replace(microsecond=0).isoformat() + "Z",
            "failed_steps": list(self.failed_steps),
            "error": self.error,
        }


def first_line(text: str | None) -> str:
    """The first non-blank line of an error, e-mail addresses masked, at most 500 characters."""
    for line in (text or "").splitlines():
        if line.strip():
            line = EMAIL.sub("[email]", line.strip())
            return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 1] + "…"
    return "(no error message)"


def innermost_message(error) -> str:
    """A Dagster `SerializableErrorInfo`'s root cause (the user's exception, not Dagster's wrapper)."""
    while error is not None and getattr(error, "cause", None) is not None:
        error = error.cause
    return getattr(error, "message", "") if error is not None else ""


def record_failure(conn: Connection, failure: RunFailure) -> None:
    """Idempotent on the run id: a sensor tick that is retried writes the same row once."""
    conn.execute(delete(run_failures).where(run_failures.c.run_id == failure.run_id))
    conn.execute(
        insert(run_failures).values(
            run_id=failure.run_id,
            job_name=failure.job_name,
            failed_at=failure.failed_at,
            failed_steps=",".join(failure.failed_steps),
            error=failure.error,
        )
    )


class AlertsResource(dg.ConfigurableResource):
    """Where failure notifications go; every channel is optional. A field left unset is read from
    its `AMED_ALERT_*` variable when an alert is sent (so a webhook URL's secret is never config)."""

    webhook_url: Optional[str] = None
    smtp_host: Optional[str] = None
    smtp_port: Optional[int] = None  # unset: AMED_ALERT_SMTP_PORT, else 25
    email_to: Optional[str] = None  # comma-separated addresses
    email_from: Optional[str] = None
    timeout_seconds: float = 10.0

    def _webhook_url(self) -> Optional[str]:
        return self.webhook_url or os.environ.get(WEBHOOK_URL_VAR) or None

    def _smtp_host(self) -> Optional[str]:
        return self.smtp_host or os.environ.get(SMTP_HOST_VAR) or None

    def _smtp_port(self) -> int:
        return self.smtp_port or int(os.environ.get(SMTP_PORT_VAR) or 25)

    def _email_to(self) -> Optional[str]:
        return self.email_to or os.environ.get(EMAIL_TO_VAR) or None

    def _email_from(self) -> Optional[str]:
        return self.email_from or os.environ.get(EMAIL_FROM_VAR) or None

    def notify(self, failure: RunFailure, log: logging.Logger | None = None) -> list[str]:
        """Send to every configured channel; returns the channels that accepted the alert."""
        body = (
            failure.summary()
            + "\n\nOpen the run in the Dagster UI (Runs, search for the run id) to see the logs and re-execute "
            "from the failed step. Failed runs are listed in the warehouse table run_failures.\n"
        )
        return self.send(
            f"[{CODE_LOCATION}] run of {failure.job_name} failed",
            body,
            failure.payload(),
            what=f"failure alert for run {failure.run_id}",
            log=log,
        )

    def send(
        self, subject: str, body: str, payload: dict, what: str = "alert", log: logging.Logger | None = None
    ) -> list[str]:
        """Any alert (a failed run, a missed night) to every configured channel; never raises."""
        log = log or dg.get_dagster_logger()
        delivered = []
        if self._webhook_url():
            try:
                self.post_webhook(payload)
                delivered.append("webhook")
            except Exception as exc:  # a broken channel must not hide the failure it reports
                log.error(f"{what} not delivered to the webhook: {exc}")
        if self._smtp_host() and self._email_to():
            try:
                self.send_email(subject, body)
                delivered.append("email")
            except Exception as exc:
                log.error(f"{what} not delivered by e-mail: {exc}")
        return delivered

    def post_webhook(self, payload: dict) -> int:
        request = urllib.request.Request(
            self._webhook_url(),
            data=json.dumps(payload).encode("utf-8"),
            headers={"Content-Type": "application/json", "User-Agent": f"{CODE_LOCATION}-alerts"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
            return response.status

    def send_email(self, subject: str, body: str) -> None:
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self._email_from() or f"{CODE_LOCATION}@{socket.getfqdn()}"
        message["To"] = ", ".join(a.strip() for a in (self._email_to() or "").split(",") if a.strip())
        message.set_content(body)
        with smtplib.SMTP(self._smtp_host(), self._smtp_port(), timeout=self.timeout_seconds) as smtp:
            smtp.send_message(message)


def build_alerts_resource() -> AlertsResource:
    """The `resources.py` pattern: unset fields, read from `AMED_ALERT_*` when an alert is sent."""
    return AlertsResource()
