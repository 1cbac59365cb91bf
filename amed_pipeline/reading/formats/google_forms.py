"""Google Forms responses (CSV downloaded from the form or exported from its Sheet).

The first column is always `Timestamp`, then `Email address` (`Email Address` on older forms)
when collected. Timestamps come as the download's `2021/06/14 10:10:09 AM GMT+1` or in the
Sheet's locale (`14/06/2021 10:10:09` for a UK sheet; `dayfirst` defaults to true). Google gives
no response id: identical rows in overlapping downloads are one response.
"""

from amed_pipeline.reading.formats.base import FormatAdapter

GOOGLE_FORMS = FormatAdapter(
    name="google_forms",
    default_dayfirst=True,
    reads_questions=True,
    # The address Google collects (the respondent's own) is `respondent_email`; the optional
    # "Email address (optional)" question is `email`.
    aliases={"submitted_at": ["Timestamp"], "respondent_email": ["Email address", "Email"]},
)
