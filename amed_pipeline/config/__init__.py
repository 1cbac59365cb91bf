"""Programme configuration: which partnerships send which exports (`partnerships.yaml`)."""

from amed_pipeline.config.partnerships import (
    ALL_PARTNERSHIPS,
    DATASETS,
    FORMATS,
    ConfigError,
    DisabledPartnership,
    Partnership,
    ProgrammeConfig,
    Source,
    load_programme_config,
)

__all__ = [
    "ALL_PARTNERSHIPS",
    "DATASETS",
    "FORMATS",
    "ConfigError",
    "DisabledPartnership",
    "Partnership",
    "ProgrammeConfig",
    "Source",
    "load_programme_config",
]
