"""Dagster resources: the warehouse, the pseudonymisation key, the erasure list, Great Expectations.

Each resource holds its own default: a field left unset is read from its `AMED_*` variable (else
its documented default: an embedded DuckDB warehouse in the data dir, a generated key file) when a
run uses it, through `settings`. Nothing here reads the environment when the code location loads,
and a secret read at run time is never config, so it is never shown in the UI. Dagster's `EnvVar`
cannot say "this variable if set, else a default" (dagster-io/dagster#16232), hence optional fields
with the fallback inside the resource. `build_definitions` passes overrides (a data dir, a
warehouse URL, an export dir, a key) as field values.
"""

import os
import secrets
from pathlib import Path
from typing import Optional

import dagster as dg
from pydantic import Field

from amed_pipeline import settings
from amed_pipeline.defs.erasure_list import build_erasure_list_resource
from amed_pipeline.quality.validation import GreatExpectationsResource
from amed_pipeline.staging.people import key_version
from amed_pipeline.warehouse.resource import WarehouseResource


class PseudonymKeyResource(dg.ConfigurableResource):
    """The HMAC key that turns emails and names into pseudonyms.

    `key` when given (an override: shown in the UI like any config, so pass an `EnvVar` for a real
    key), else `AMED_PSEUDONYM_KEY` at run time; when neither is set, a random key is created once
    in the key file (`key_file`, else `AMED_PSEUDONYM_KEY_FILE`, else `~/.config/amed_pipeline/`:
    owner-only permissions, outside the warehouse and the repository) and a warning is logged.
    """

    key: Optional[str] = Field(default=None, description="unset: AMED_PSEUDONYM_KEY when the run starts")
    key_file: str = Field(
        default="", description="where a generated key is kept; unset: AMED_PSEUDONYM_KEY_FILE, else ~/.config"
    )

    def _key(self) -> str | None:
        return self.key or settings.pseudonym_key()

    @property
    def key_path(self) -> Path:
        """The key file in use (the field, else `AMED_PSEUDONYM_KEY_FILE`, else the default)."""
        return Path(self.key_file) if self.key_file else settings.default_key_file()

    def existing_key_bytes(self) -> bytes | None:
        """The key, without generating one: None when no key is set and the key file does not exist."""
        key = self._key()
        if key:
            return key.encode("utf-8")
        path = self.key_path
        return path.read_text(encoding="utf-8").strip().encode("utf-8") if path.is_file() else None

    def key_bytes(self) -> bytes:
        key = self._key()
        if key:
            return key.encode("utf-8")
        path = self.key_path
        if path.is_file():
            return path.read_text(encoding="utf-8").strip().encode("utf-8")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        generated = secrets.token_hex(32)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(generated + "\n")
        dg.get_dagster_logger().warning(
            f"{settings.PSEUDONYM_KEY_VAR} is not set: generated a pseudonym key in {path} "
            f"(version {key_version(generated.encode())}); keep it safe, pseudonyms depend on it"
        )
        return generated.encode("utf-8")


def build_resources(
    data_dir: Path,
    warehouse_url: str | None = None,
    pseudonym_key: str | None = None,
) -> dict:
    """The resources; an override left None is read from the environment when a run uses it."""
    return {
        "warehouse": WarehouseResource(url=warehouse_url, data_dir=str(data_dir)),
        "pseudonym_key": PseudonymKeyResource(key=pseudonym_key),
        "erasure_list": build_erasure_list_resource(),
        "great_expectations": GreatExpectationsResource(),
    }
