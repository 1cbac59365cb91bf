"""The watchdog: a night without a successful refresh is noticed, whatever the cause.

A missed night has many causes: the main code location does not load (a broken
partnerships.yaml), the schedule was switched off, every run failed, the daemon was down. The
failure alert (`defs.automation.run_failure_alerts`) only covers failed runs, and it lives in the
main code location, so it disappears with it. This package is a second, small code location
(`amed_watchdog` in workspace.yaml) that depends on nothing but Dagster's instance and the
`AMED_ALERT_*` channels: it never reads partnerships.yaml, the data dir or the warehouse, so it
loads when the main location cannot.

Its sensor `missed_refresh_watchdog` (on by default, every 10 minutes) looks up the last
successful run of `nightly_refresh` in the instance, and the last night the schedule found nothing
to do (the schedule leaves a heartbeat in the instance's key-value store, `HEARTBEAT_KEY`). When
the newer of the two is older than `AMED_WATCHDOG_MAX_HOURS` (default 26: a night missed after a
02:00 refresh is noticed by 04:00 the next morning), it alerts through the same webhook and e-mail
channels, once a day while it lasts, saying what it can see (the schedule switched off, the last
run's status). Silence a known outage by switching the sensor off in the UI (Automation), or with
`AMED_WATCHDOG_SILENCE_UNTIL=YYYY-MM-DD`. `python -m amed_pipeline.watchdog` runs the same check
once, for cron, where no daemon runs; it exits 1 when the refresh is overdue.

It must not import `amed_pipeline.config`, `amed_pipeline.definitions` or `amed_pipeline.defs`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from typing import Optional

import dagster as dg

from amed_pipeline.operations.failures import CODE_LOCATION, AlertsResource, build_alerts_resource

WATCHDOG_LOCATION = "amed_watchdog"
WATCHDOG_SENSOR_NAME = "missed_refresh_watchdog"
WATCHED_JOB = "nightly_refresh"  # defs.jobs.NIGHTLY_JOB_NAME (a test keeps them equal)
WATCHED_SCHEDULE = "nightly_refresh_schedule"  # defs.automation.NIGHTLY_SCHEDULE_NAME
HEARTBEAT_KEY = "amed/nightly_refresh/nothing_to_do_at"  # ISO time (UTC) of the last "nothing changed" tick
MAX_HOURS_VAR = "AMED_WATCHDOG_MAX_HOURS"
SILENCE_UNTIL_VAR = "AMED_WATCHDOG_SILENCE_UNTIL"
DEFAULT_MAX_HOURS = 26
REMIND_EVERY = dt.timedelta(hours=24)


def _utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)


def record_nothing_to_do(instance: dg.DagsterInstance, when: Optional[dt.datetime] = None) -> None:
    """Called by the nightly schedule when nothing changed: a quiet night is a good night."""
    when = when or dt.datetime.now(dt.timezone.utc)
    instance.run_storage.set_cursor_values({HEARTBEAT_KEY: when.isoformat()})


def last_good_refresh(instance: dg.DagsterInstance) -> Optional[dt.datetime]:
    """The end of the last successful nightly_refresh run, or the last "nothing changed" night if later."""
    times = []
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=WATCHED_JOB, statuses=[dg.DagsterRunStatus.SUCCESS]),
        limit=1,
        order_by="update_timestamp",
        ascending=False,
    )
    if records and records[0].end_time:
        times.append(_utc(records[0].end_time))
    heartbeat = instance.run_storage.get_cursor_values({HEARTBEAT_KEY}).get(HEARTBEAT_KEY)
    if heartbeat:
        times.append(dt.datetime.fromisoformat(heartbeat))
    return max(times) if times else None


def what_we_can_see(instance: dg.DagsterInstance) -> list[str]:
    """Clues for the person on call: the schedule switched off, the last run and how it ended."""
    from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType

    clues = []
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE):
        if state.instigator_name == WATCHED_SCHEDULE and state.status == InstigatorStatus.STOPPED:
            clues.append(f"the schedule {WATCHED_SCHEDULE} is switched off (Automation in the UI)")
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=WATCHED_JOB), limit=1, order_by="create_timestamp", ascending=False
    )
    if records:
        run = records[0]
        when = _utc(run.end_time or run.create_timestamp.timestamp()).strftime("%Y-%m-%d %H:%M UTC")
        clues.append(
            f"the last {WATCHED_JOB} run {run.dagster_run.run_id} ended {run.dagster_run.status.value} at {when}"
        )
    else:
        clues.append(f"no {WATCHED_JOB} run is recorded in this Dagster instance")
    return clues


@dataclass(frozen=True)
class Overdue:
    last_good: Optional[dt.datetime]
    watching_since: dt.datetime
    max_hours: int
    clues: tuple[str, ...]

    def summary(self) -> str:
        since = (
            f"since {self.last_good:%Y-%m-%d %H:%M} UTC"
            if self.last_good
            else f"since the watchdog started watching at {self.watching_since:%Y-%m-%d %H:%M} UTC"
        )
        clues = "; ".join(self.clues)
        return (
            f"{CODE_LOCATION}: no successful nightly refresh {since} (expected at least every {self.max_hours:g} h). "
            f"Seen: {clues}. Check Deployment (does the code location {CODE_LOCATION} load?), the daemon, Automation "
            f"and Runs in the UI; to silence a known outage switch {WATCHDOG_SENSOR_NAME} off or set {SILENCE_UNTIL_VAR}."
        )

    def payload(self) -> dict:
        return {
            "text": self.summary(),
            "event": "missed_refresh",
            "code_location": CODE_LOCATION,
            "job": WATCHED_JOB,
            "last_successful_refresh": self.last_good.isoformat() if self.last_good else None,
            "max_hours": self.max_hours,
            "seen": list(self.clues),
        }


class WatchdogResource(dg.ConfigurableResource):
    """How late is too late (`AMED_WATCHDOG_MAX_HOURS`), and a known outage to keep quiet about
    (`AMED_WATCHDOG_SILENCE_UNTIL`). A field left unset is read from its variable when the sensor
    runs, never when the code location loads."""

    max_hours: Optional[int] = None  # unset: AMED_WATCHDOG_MAX_HOURS, else DEFAULT_MAX_HOURS
    silence_until: Optional[str] = None  # YYYY-MM-DD or an ISO time (UTC); unset: AMED_WATCHDOG_SILENCE_UNTIL

    def hours(self) -> int:
        return self.max_hours or int(os.environ.get(MAX_HOURS_VAR) or DEFAULT_MAX_HOURS)

    def silenced_until(self) -> Optional[str]:
        return self.silence_until or os.environ.get(SILENCE_UNTIL_VAR) or None

    def silenced(self, now: dt.datetime) -> bool:
        if not self.silenced_until():
            return False
        until = dt.datetime.fromisoformat(self.silenced_until())
        until = until if until.tzinfo else until.replace(tzinfo=dt.timezone.utc)
        return now < until


def check(
    instance: dg.DagsterInstance, watchdog: WatchdogResource, cursor: dict, now: Optional[dt.datetime] = None
) -> tuple[Optional[Overdue], str, dict]:
    """(the overdue refresh to alert about or None, what to say, the next cursor).

    The cursor keeps when the watchdog started watching (the clock for a refresh that never
    succeeded) and when it last alerted (one alert a day while the refresh stays overdue)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    watching_since = dt.datetime.fromisoformat(cursor["watching_since"]) if cursor.get("watching_since") else now
    alerted_at = dt.datetime.fromisoformat(cursor["alerted_at"]) if cursor.get("alerted_at") else None
    last_good = last_good_refresh(instance)
    reference = last_good or watching_since
    next_cursor = {"watching_since": watching_since.isoformat()}
    if now - reference < dt.timedelta(hours=watchdog.hours()):
        return None, f"last good refresh {reference:%Y-%m-%d %H:%M} UTC: on time", next_cursor
    if watchdog.silenced(now):
        return (
            None,
            f"refresh overdue since {reference:%Y-%m-%d %H:%M} UTC, silenced until {watchdog.silenced_until()}",
            next_cursor,
        )
    if alerted_at and alerted_at > reference and now - alerted_at < REMIND_EVERY:
        return (
            None,
            f"refresh overdue; alerted at {alerted_at:%Y-%m-%d %H:%M} UTC, next reminder after a day",
            {**next_cursor, "alerted_at": alerted_at.isoformat()},
        )
    overdue = Overdue(last_good, watching_since, watchdog.hours(), tuple(what_we_can_see(instance)))
    return overdue, overdue.summary(), {**next_cursor, "alerted_at": now.isoformat()}


def alert(alerts: AlertsResource, overdue: Overdue, log=None) -> list[str]:
    return alerts.send(
        f"[{CODE_LOCATION}] no successful nightly refresh",
        overdue.summary() + "\n",
        overdue.payload(),
        what="missed-refresh alert",
        log=log,
    )


@dg.sensor(
    name=WATCHDOG_SENSOR_NAME,
    minimum_interval_seconds=600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts (AMED_ALERT_WEBHOOK_URL / AMED_ALERT_EMAIL_TO) when nightly_refresh has not succeeded "
    "for AMED_WATCHDOG_MAX_HOURS (default 26), whatever the cause, once a day while it lasts. Lives in its own "
    "code location so it works when the main one cannot load. Switch off to silence a known outage.",
)
def missed_refresh_watchdog(context: dg.SensorEvaluationContext, alerts: AlertsResource, watchdog: WatchdogResource):
    overdue, message, cursor = check(context.instance, watchdog, json.loads(context.cursor) if context.cursor else {})
    if overdue is not None:
        context.log.error(message)
        delivered = alert(alerts, overdue, log=context.log)
        message = f"alert sent by {', '.join(delivered) or 'no channel (set AMED_ALERT_*)'}: {message}"
    return dg.SensorResult(skip_reason=dg.SkipReason(message), cursor=json.dumps(cursor))


def build_watchdog_resource() -> WatchdogResource:
    """Unset fields, read from their variables when the sensor runs (like resources.py)."""
    return WatchdogResource()


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        sensors=[missed_refresh_watchdog],
        resources={"alerts": build_alerts_resource(), "watchdog": build_watchdog_resource()},
    )
