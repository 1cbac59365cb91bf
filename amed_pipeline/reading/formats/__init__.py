"""One adapter per export format, all on the shared reading layer (`reading.files`, `reading.fields`)."""

from amed_pipeline.config import Source
from amed_pipeline.reading.formats.api import EVENTBRITE_API, GOOGLE_FORMS_API, SURVEYMONKEY_API
from amed_pipeline.reading.formats.base import FormatAdapter, MissingColumnError
from amed_pipeline.reading.formats.eventbrite import EVENTBRITE
from amed_pipeline.reading.formats.google_forms import GOOGLE_FORMS
from amed_pipeline.reading.formats.jisc import JISC
from amed_pipeline.reading.formats.mapped_csv import MAPPED_CSV
from amed_pipeline.reading.formats.msforms import MSFORMS
from amed_pipeline.reading.formats.surveymonkey import SURVEYMONKEY

ADAPTERS: dict[str, FormatAdapter] = {
    adapter.name: adapter
    for adapter in (
        EVENTBRITE,
        SURVEYMONKEY,
        MSFORMS,
        GOOGLE_FORMS,
        JISC,
        MAPPED_CSV,
        EVENTBRITE_API,
        SURVEYMONKEY_API,
        GOOGLE_FORMS_API,
    )
}


def adapter_for(source: Source) -> FormatAdapter:
    """The adapter that reads a source's files: a `graph_drive` source's files are read as `read_as`."""
    if source.format == "graph_drive":
        return ADAPTERS[source.options["read_as"]]
    return ADAPTERS[source.format]


__all__ = ["ADAPTERS", "FormatAdapter", "MissingColumnError", "adapter_for"]
