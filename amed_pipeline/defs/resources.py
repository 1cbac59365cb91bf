"""Dagster resources: the warehouse and the pseudonymisation key, built from `EnvVar`s.

`build_resources` runs when the code location loads: a variable that is set becomes an
`EnvVar` (resolved at run time, never shown in the UI); an unset one falls back to its
documented default (an embedded DuckDB warehouse in the data dir, a generated key file).
"""

import os
import secrets
from pathlib import Path
from typing import Optional

import dagster as dg

from amed_pipeline import settings
from amed_pipeline.defs.erasure_list import build_erasure_list_resource
from amed_pipeline.quality.validation import GreatExpectationsResource
from amed_pipeline.staging.people import key_version
from amed_pipeline.warehouse.resource import WarehouseResource, default_warehouse_url


class PseudonymKeyResource(dg.ConfigurableResource):
    """The HMAC key that turns emails and names into pseudonyms.

    From `AMED_PSEUDONYM_KEY`; when unset, a random key is created once in `key_file` (owner-only
    permissions, outside the warehouse and the repository) and a warning is logged.
    """

    key: Optional[str] = None
    key_file: str = ""

    def existing_key_bytes(self) -> bytes | None:
        """The key, without generating one: None when no key is set and the key file does not exist."""
        if self.key:
            return self.key.encode("utf-8")
        path = Path(self.key_file) if self.key_file else settings.default_key_file()
        return path.read_text(encoding="utf-8").strip().encode("utf-8") if path.is_file() else None

    def key_bytes(self) -> bytes:
        if self.key:
            return self.key.encode("utf-8")
        path = Path(self.key_file) if self.key_file else settings.default_key_file()
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


def _duckdb_memory_limit() -> dict:
    if os.environ.get(settings.DUCKDB_MEMORY_LIMIT_VAR):
        return {"duckdb_memory_limit": dg.EnvVar(settings.DUCKDB_MEMORY_LIMIT_VAR)}
    return {}


def build_resources(data_dir: Path, warehouse_url: str | None = None) -> dict:
    if warehouse_url is None:
        warehouse_url = (
            dg.EnvVar(settings.WAREHOUSE_URL_VAR)
            if os.environ.get(settings.WAREHOUSE_URL_VAR)
            else default_warehouse_url(data_dir)
        )
    key = dg.EnvVar(settings.PSEUDONYM_KEY_VAR) if os.environ.get(settings.PSEUDONYM_KEY_VAR) else None
    return {
        "warehouse": WarehouseResource(url=warehouse_url, **_duckdb_memory_limit()),
        "pseudonym_key": PseudonymKeyResource(key=key, key_file=str(settings.default_key_file())),
        "erasure_list": build_erasure_list_resource(),
        "great_expectations": GreatExpectationsResource(),
    }
