"""The erasure list as a Dagster resource: the raw-export assets leave out the people it names.

The list file and its key are `privacy.erasure`; this module only makes them a resource whose
settings are read at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import dagster as dg

from amed_pipeline import settings
from amed_pipeline.privacy.erasure import ErasureListError, erased_tokens, read_or_create_key


class ErasureListResource(dg.ConfigurableResource):
    """People left out at load (`python -m amed_pipeline forget`): the list file and its key.

    `path`, else `AMED_ERASURE_LIST` (default beside the pseudonym key file); the key: `key`, else
    `AMED_ERASURE_KEY`, else `erasure.key` beside the list; unset fields are read when a run uses
    them. No list: nobody is left out. A list whose key is missing or different fails the step
    (see `privacy.erasure`).
    """

    path: Optional[str] = None
    key: Optional[str] = None

    def load(self) -> tuple[frozenset[str], Optional[bytes]]:
        """The listed tokens and the key; a `dg.Failure` without retries when the list is unusable
        (retrying cannot bring a key back)."""
        path = Path(self.path) if self.path else settings.erasure_list_file()
        key = read_or_create_key(self.key or settings.erasure_key(), settings.erasure_key_file(path), create=False)
        try:
            return erased_tokens(path, key), key
        except ErasureListError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from exc


def build_erasure_list_resource() -> ErasureListResource:
    """The `resources.py` pattern: unset fields, read from the environment when a run uses them."""
    return ErasureListResource()
