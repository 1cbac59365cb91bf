"""The ways a pull can end badly, as types: transient (worth retrying later) or permanent.

`TransientApiError` (5xx and timeouts that outlived our own backoff) may succeed on a later
attempt, so it is a `TransientSourceError` (`amed_pipeline.errors`), the one type the nightly job's
retry policy retries; `PermanentApiError` (401/403, other 4xx, a malformed page) will not until a
person fixes something. `QuotaExhausted` is not a failure at all: the pull stopped cleanly at the
last complete page and the next night resumes. Every message names the partnership, the source
and the token's environment variable, never the token; none chains an HTTP library exception
whose text could carry a request.
"""

from __future__ import annotations

from amed_pipeline.errors import TransientSourceError


class ApiError(Exception):
    """A pull that did not complete; `str()` is one line fit for logs and the UI."""


class TransientApiError(ApiError, TransientSourceError):
    """5xx, timeouts and connection failures still failing after the retries with backoff."""


class PermanentApiError(ApiError):
    """An answer retrying cannot change: a 4xx other than 429, a malformed page, a bad config."""


class ApiAuthError(PermanentApiError):
    """401/403, or no token in the environment variable: someone has to renew or grant it."""


class QuotaExhausted(Exception):
    """The daily request budget or the service's quota ran out: stop cleanly, resume next night."""
