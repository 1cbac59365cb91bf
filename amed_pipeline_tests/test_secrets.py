"""Scope: no secret is committed. Database URLs and keys come only from environment variables or
files outside the repository (SECURITY.md), so the committed configuration must hold none.

Scanned: `data/partnerships.yaml`, `workspace.yaml`, the `Makefile`, everything under `deploy/`,
`.ci/` and `scripts/`, and every YAML, TOML, INI, CFG and dotenv file in the tree (git-ignored
folders such as `.venv/` and `.dagster_home/` excepted; the test does not run git). Flagged: a
password inside a URL, a `password:`/`token:`/`key:`-like setting with a literal value, a long
hex or base64 string, a private-key block and well-known token prefixes. Variable references
(`${VAR}`, `$VAR`), empty or boolean values and placeholders that merely repeat the field's name
(`user:password@host`) are fine. The scanner is shown to catch planted examples.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from amed_pipeline_tests.pipeline_runs import PROJECT_ROOT

IGNORED_DIRS = {
    ".git",
    ".venv",
    "venv",
    ".dagster_home",
    ".pytest_cache",
    "__pycache__",
    "build",
    "node_modules",
    "warehouse",
    "exports",
    ".secrets",
}
CONFIG_SUFFIXES = {".yaml", ".yml", ".toml", ".ini", ".cfg", ".env", ".conf"}
NAMED_FILES = ("data/partnerships.yaml", "workspace.yaml", "Makefile", "pyproject.toml")
SCANNED_DIRS = ("deploy", ".ci", "scripts")

URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:([^@\s/'\"]+)@", re.IGNORECASE)
SECRET_SETTING = re.compile(
    r"^[\s\-]*(?:export\s+)?[\"']?([A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|"
    r"private[_-]?key|pseudonym[_-]?key|erasure[_-]?key|credentials?)|key)[\"']?\s*(?:[?:+]?=|:)\s*(.*)$",
    re.IGNORECASE,
)
LONG_HEX = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32,}(?![0-9A-Za-z])")
LONG_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{40,}={0,2}")
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
TOKEN_PREFIXES = re.compile(
    r"\b(AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}|sk_live_[A-Za-z0-9]{16,})\b"
)
REFERENCE = re.compile(r"^(\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*|\{env:[^}]+\}|!env\s+\S+|<[^>]+>|\*+)$")
EMPTY = {"", "null", "~", "none", '""', "''", "[]", "{}", "true", "false", "yes", "no", "on", "off"}
# Documentation placeholders (`postgresql://user:password@host/db`): the value is the field's own name.
PLACEHOLDERS = {"password", "passwd", "pass", "pw", "secret", "token", "key"}
# A bare `key:` is also how Dagster names a tag (`tag_concurrency_limits: - key: amed/warehouse`):
# a namespaced tag name is not a secret (a long random value would still be caught as hex/base64).
TAG_NAME = re.compile(r"^[a-z0-9_.-]+/[a-z0-9_./-]+$")


def scanned_files(root: Path) -> list[Path]:
    files = {root / name for name in NAMED_FILES if (root / name).is_file()}
    for directory in SCANNED_DIRS:
        files |= {p for p in (root / directory).rglob("*") if p.is_file()} if (root / directory).is_dir() else set()
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if d not in IGNORED_DIRS and not d.endswith(".egg-info")]
        for name in names:
            if Path(name).suffix in CONFIG_SUFFIXES or name.startswith(".env"):
                files.add(Path(directory) / name)
    return sorted(p for p in files if not IGNORED_DIRS & set(p.relative_to(root).parts[:-1]))


def _literal(value: str) -> str:
    value = re.split(r"\s+#", value, maxsplit=1)[0].strip().rstrip(",")
    return value.strip("\"'").strip()


def _mixed(text: str) -> bool:
    return bool(re.search(r"[a-z]", text) and re.search(r"[A-Z]", text) and re.search(r"[0-9]", text))


def find_secrets(path: Path) -> list[str]:
    """`file:line: what` for every secret-looking value in the file."""
    findings = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#") and not PRIVATE_KEY.search(line):
            continue
        where = f"{path.name}:{number}"
        for match in URL_PASSWORD.finditer(line):
            if not REFERENCE.match(match.group(1)) and match.group(1).lower() not in PLACEHOLDERS:
                findings.append(f"{where}: a password inside a URL")
        setting = SECRET_SETTING.match(line)
        if setting:
            value = _literal(setting.group(2))
            tag = setting.group(1).lower() == "key" and TAG_NAME.match(value)
            harmless = value.lower() in EMPTY | PLACEHOLDERS or REFERENCE.match(value) or value.startswith(("{", "["))
            if not harmless and not tag:
                findings.append(f"{where}: '{setting.group(1)}' has a literal value")
        if LONG_HEX.search(line):
            findings.append(f"{where}: a long hex string")
        if any(_mixed(m.group(0)) for m in LONG_BASE64.finditer(line)):
            findings.append(f"{where}: a long base64-like string")
        if PRIVATE_KEY.search(line):
            findings.append(f"{where}: a private key")
        if TOKEN_PREFIXES.search(line):
            findings.append(f"{where}: an access token")
    return findings


def test_the_scan_covers_the_configuration_that_is_committed():
    names = {p.relative_to(PROJECT_ROOT).as_posix() for p in scanned_files(PROJECT_ROOT)}
    assert {"data/partnerships.yaml", "workspace.yaml", "Makefile", "pyproject.toml", ".ci/run"} <= names
    assert not [n for n in names if n.startswith((".venv/", ".git/", ".dagster_home/"))]


def test_no_secret_is_committed_in_the_configuration():
    findings = [f for path in scanned_files(PROJECT_ROOT) for f in find_secrets(path)]
    assert not findings, "secret-looking values committed:\n" + "\n".join(findings)


@pytest.mark.parametrize(
    "planted",
    [
        "warehouse_url: postgresql+psycopg://amed:Tr0ub4dor@db.internal/amed",
        "export AMED_WAREHOUSE_URL=postgresql://amed:hunter2@10.0.0.5:5432/amed",
        "password: correct-horse-battery",
        "  api_key: 'abc123abc123'",
        "AMED_PSEUDONYM_KEY=my-pseudonym-key",
        "AMED_PSEUDONYM_KEY ?= my-pseudonym-key",
        "key: 4f9c2a7d1e8b6c3f5a0d9e2b7c4f1a8d",
        "note: 3f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d2f4a6c8e",
        "blob: dGhpcyBpcyBhIHNlY3JldCB0aGF0IHNob3VsZCBub3QgYmUgaGVyZQ==",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "token: ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    ],
)
def test_the_scan_finds_a_planted_secret(tmp_path, planted):
    path = tmp_path / "deploy.yaml"
    path.write_text(f"# deployment\nname: amed\n{planted}\n", encoding="utf-8")
    assert find_secrets(path), f"not flagged: {planted}"


def test_references_placeholders_and_ordinary_settings_are_not_secrets(tmp_path):
    path = tmp_path / "deploy.yaml"
    path.write_text(
        "\n".join(
            [
                "warehouse_url: ${AMED_WAREHOUSE_URL}",
                "url: postgresql+psycopg://amed@127.0.0.1:5432/amed",
                "url2: postgresql://amed:${DB_PASSWORD}@db/amed",
                "Set `AMED_WAREHOUSE_URL=postgresql+psycopg://user:password@host/amed?sslmode=require`",
                "generatePostgresqlPasswordSecret: false",
                "password:",
                "token: null",
                "pseudonym_key: $AMED_PSEUDONYM_KEY",
                "password_file: /run/secrets/amed_db_password",
                "session_ref: Eventbrite event ID",
                "  - key: amed/warehouse",
                "delivery_mode: {Online (Teams): online}",
                "# password: example-in-a-comment",
            ]
        ),
        encoding="utf-8",
    )
    assert find_secrets(path) == []
