"""Leaving out people on the erasure list as their files land, before pseudonymisation.

Each row left out becomes an identity-free quarantine record (rule `erased`, no column, no value,
a fixed reason), so that rows read = loaded + quarantined + duplicate still holds and nothing
says who. The list and its tokens are `privacy.erasure`; the identity texts are the ones a
pseudonym is made from (`staging.people`).
"""

from __future__ import annotations

from typing import Optional

import pandas as pd

from amed_pipeline.privacy.erasure import ERASED_REASON, ERASED_RULE, erasure_token
from amed_pipeline.staging.datasets import empty_quarantine, quarantine_rows
from amed_pipeline.staging.people import every_identity_text


def drop_erased(
    rows: pd.DataFrame, tokens: frozenset[str], key: Optional[bytes], partnership_id: str, dataset: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of people not on the list, and one identity-free quarantine record per row left out.

    Runs on the rows as read (before pseudonymisation), as it needs the same identity texts.
    """
    if not tokens or key is None or rows.empty:
        return rows, _erased_records(rows.iloc[0:0], dataset)
    erased = pd.Series(False, index=rows.index)
    for identities in every_identity_text(rows, partnership_id):
        listed = {text for text in pd.unique(identities.to_numpy()) if text and erasure_token(key, text) in tokens}
        erased |= identities.isin(listed)
    return rows[~erased].reset_index(drop=True), _erased_records(rows[erased], dataset)


def _erased_records(rows: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Identity-free quarantine records: file and row for the accounting, no column, no value."""
    if rows.empty:
        return empty_quarantine()
    return quarantine_rows(rows, dataset, ERASED_RULE, "", ERASED_REASON)
