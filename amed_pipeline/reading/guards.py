"""What the reader checks before it opens an export: the file is inside the data dir and not too big.

Export files are untrusted input (partners drop them in a shared folder). The config already
refuses globs that leave the data dir (`config.partnerships`); a symbolic link inside the data
dir can still point anywhere, so each matched file must resolve inside the data dir. A file
larger than the configured limit (`limits.max_file_mb` in `partnerships.yaml`) is refused
before a byte is read, and so is an xlsx whose uncompressed content is larger than the limit (a
"zip bomb" expands in memory while it is parsed). A refusal is a file-level quarantine with a
reason naming the limit; the other files still load. Nothing here interprets the content.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from amed_pipeline.reading.files import XLSX_SUFFIXES

MEGABYTE = 1024 * 1024


def refusal(path: Path, data_dir: Path, max_bytes: int) -> str:
    """Why the pipeline must not read `path` ('' when it may)."""
    path, root = Path(path), Path(data_dir).resolve()
    try:
        resolved = path.resolve(strict=True)
    except OSError as exc:
        return f"cannot open the file: {exc.strerror or exc}"
    if not resolved.is_relative_to(root):
        return "the file is a link to somewhere outside the data dir: refused, not read"
    size = resolved.stat().st_size
    if size > max_bytes:
        return (
            f"the file is {_mb(size)} MB, over the {_mb(max_bytes)} MB limit (limits.max_file_mb in "
            "partnerships.yaml): refused, not read; split the export or raise the limit"
        )
    if path.suffix.lower() in XLSX_SUFFIXES:
        expanded = uncompressed_size(resolved)
        if expanded > max_bytes:
            return (
                f"the workbook's uncompressed content is {_mb(expanded)} MB, over the {_mb(max_bytes)} MB limit "
                "(limits.max_file_mb in partnerships.yaml): refused, not read"
            )
    return ""


def uncompressed_size(path: Path) -> int:
    """Total uncompressed size of a zip (xlsx) from its directory; 0 when it is not a zip
    (the reader then reports what is wrong with it)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return 0


def file_size(path: Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def _mb(size: int) -> str:
    return f"{size / MEGABYTE:.1f}".removesuffix(".0")
