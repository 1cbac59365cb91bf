"""The terminal's view of a run: one line per log record, never a stack trace.

Dagster's default `console` logger prints every step failure with its whole stack trace, so a
refresh from the command line (and the code server's output) would still show 100-line
tracebacks. This logger replaces it under the same name: each record is one line (time, step,
first line of the message); `verbose: true` (`python -m amed_pipeline --verbose refresh`) prints
records whole. The run's event log, which the UI shows, always keeps the full error.
"""

from __future__ import annotations

import logging
import sys

import dagster as dg


class OneLineFormatter(logging.Formatter):
    def __init__(self, verbose: bool = False):
        super().__init__("%(asctime)s - %(levelname)s - %(message)s", "%Y-%m-%d %H:%M:%S")
        self.verbose = verbose

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if self.verbose:
            return text
        return next((line for line in text.splitlines() if line.strip()), "")

    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return super().formatException(ei) if self.verbose else ""


@dg.logger(
    config_schema={
        "log_level": dg.Field(str, is_required=False, default_value="INFO"),
        "verbose": dg.Field(bool, is_required=False, default_value=False),
    },
    description="One line per record on stderr (whole records with verbose: true); the event log keeps everything.",
)
def one_line_console(init_context) -> logging.Logger:
    logger = logging.Logger(
        "amed_pipeline", level=logging.getLevelName(init_context.logger_config["log_level"].upper())
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter(init_context.logger_config["verbose"]))
    logger.addHandler(handler)
    return logger
