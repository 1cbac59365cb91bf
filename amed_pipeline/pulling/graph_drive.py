"""Microsoft Graph: new or changed files in a OneDrive/SharePoint folder (the exports with no API).

Microsoft Forms has no supported responses API; its synced workbook, and any JISC or booking
system export a partnership saves to a shared folder, are files. Pull:
`GET /drives/{drive}/root/delta`, following `@odata.nextLink` to the final `@odata.deltaLink`,
which is the cursor: the next night asks it for what changed since. Delta runs on the drive's
root because OneDrive for Business and SharePoint support it only there; items outside
`folder_path` (by `parentReference.path`, case-insensitively) are skipped. Each
file item (not a folder, not deleted) in the folder whose `cTag`/`eTag` is new is downloaded with
`GET /drives/{drive}/items/{id}/content` and written atomically under
`raw/<partnership>/api/<source>/files/`, where the source's raw-export asset reads it as the
format in `read_as` and the file sensor watches it like any dropped export. The delta pages are
snapshotted without `@microsoft.graph.downloadUrl` (a pre-authenticated link: whoever has it can
download the file). A file deleted from the folder keeps its landed copy (retention removes it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

from amed_pipeline.config.api_sources import DRIVE_FILES_DIR, api_source_dir
from amed_pipeline.pulling.base import Listing, PullContext, Request, follow_listing

SERVICE = "Microsoft Graph"
DOWNLOAD_URL = "@microsoft.graph.downloadUrl"


def safe_file_name(name: str) -> str:
    cleaned = re.sub(r"[\\/\x00-\x1f]", "_", name).strip().lstrip(".")
    return cleaned or "unnamed"


def in_folder(body: dict, folder: str) -> list[dict]:
    """The file items of a delta page that sit in `folder` or below it."""
    wanted = folder.strip("/").casefold()
    items = []
    for item in body.get("value") or []:
        if not isinstance(item, dict) or "file" not in item:
            continue
        path = str((item.get("parentReference") or {}).get("path") or "")
        where = path.split("root:", 1)[1].strip("/").casefold() if "root:" in path else ""
        if where == wanted or where.startswith(wanted + "/"):
            items.append(item)
    return items


def pull(ctx: PullContext) -> None:
    drive = quote(str(ctx.options["drive_id"]), safe="")
    folder = str(ctx.options["folder_path"]).strip("/")
    files_dir = Path(ctx.data_dir) / api_source_dir(ctx.source.partnership_id, ctx.source.name) / DRIVE_FILES_DIR
    tags = ctx.state.setdefault("files", {})  # item id → cTag/eTag of the copy landed

    def download(body: dict) -> None:
        for item in in_folder(body, folder):
            if "deleted" in item:
                continue
            tag = str(item.get("cTag") or item.get("eTag") or item.get("lastModifiedDateTime") or "")
            item_id = str(item.get("id"))
            if tag and tags.get(item_id) == tag:
                continue
            reply = ctx.client.get(f"drives/{drive}/items/{quote(item_id, safe='')}/content")
            files_dir.mkdir(parents=True, exist_ok=True)
            target = files_dir / safe_file_name(str(item.get("name") or item_id))
            temporary = target.with_name(f".{target.name}.tmp")
            temporary.write_bytes(reply.content)
            os.replace(temporary, target)
            tags[item_id] = tag
            ctx.outcome.files_landed += 1

    def next_request(body: dict, request: Request) -> Request | None:
        link = body.get("@odata.nextLink")
        return Request(link) if link else None

    first = Request(ctx.state["cursor"]) if ctx.state.get("cursor") else Request(f"drives/{drive}/root/delta")
    follow_listing(
        ctx,
        Listing(
            kind="delta",
            first=first,
            next_request=next_request,
            items=lambda body: in_folder(body, folder),
            changed_field="lastModifiedDateTime",
            created_field="createdDateTime",
            on_page=download,
            page_body=lambda body: {
                **body,
                "value": [
                    {k: v for k, v in i.items() if k != DOWNLOAD_URL} if isinstance(i, dict) else i
                    for i in body.get("value") or []
                ],
            },
            final_cursor=lambda body: body.get("@odata.deltaLink") or ctx.state.get("cursor", ""),
        ),
    )
