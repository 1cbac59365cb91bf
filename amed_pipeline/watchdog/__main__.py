"""`python -m amed_pipeline.watchdog`: the watchdog's check once, for cron where no Dagster daemon runs.

Exit 0: a refresh succeeded recently enough (or the outage is silenced); 1: overdue, and the
alert was sent to the `AMED_ALERT_*` channels. Reads the Dagster instance in `DAGSTER_HOME`.
"""

from __future__ import annotations

import sys

import dagster as dg

from amed_pipeline.operations.failures import build_alerts_resource
from amed_pipeline.watchdog import alert, build_watchdog_resource, check


def main() -> int:
    with dg.DagsterInstance.get() as instance:
        with dg.build_resources(
            {"alerts": build_alerts_resource(), "watchdog": build_watchdog_resource()}
        ) as resources:
            overdue, message, _ = check(instance, resources.watchdog, {})
            print(message)
            if overdue is None:
                return 0
            alert(resources.alerts, overdue)
            return 1


if __name__ == "__main__":
    sys.exit(main())
