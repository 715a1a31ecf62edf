"""When to retry a registry request and how long to wait: backoff, jitter, Retry-After."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx

from pytest_imagebuild.errors import RegistryError

from .options import RegistryOptions

__all__ = ["RETRY_STATUS", "Backoff", "is_transient", "retry_after_seconds", "with_retries"]

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
T = TypeVar("T")


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header in seconds (``120`` or an HTTP-date); None when absent or bad."""
    text = (value or "").strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def is_transient(exc: RegistryError) -> bool:
    """A failure worth another try: a retryable status, or a network failure other than TLS."""
    if exc.status is not None:
        return exc.status in RETRY_STATUS
    cause = exc.__cause__
    if not isinstance(cause, httpx.TransportError):
        return False
    text = str(cause)
    return "CERTIFICATE_VERIFY_FAILED" not in text and not (
        isinstance(cause, httpx.ConnectError) and ("SSL" in text or "record layer" in text)
    )


class Backoff:
    """Exponential backoff with jitter, capped; a server's Retry-After wins (capped too).

    Attempt ``n`` (from 0) waits between half and all of ``backoff * 2**n``, at most
    ``max_backoff``: the jitter keeps parallel pulls of many CI jobs from retrying in step.
    """

    def __init__(self, options: RegistryOptions, rng: random.Random | None = None) -> None:
        self.options = options
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        asked = retry_after_seconds(retry_after)
        if asked is not None:
            return min(asked, self.options.max_retry_after)
        full = min(self.options.max_backoff, self.options.backoff * 2.0**attempt)
        return full * self._rng.uniform(0.5, 1.0)

    def wait(self, attempt: int, retry_after: str | None = None) -> None:
        time.sleep(self.delay(attempt, retry_after))


def with_retries(run: Callable[[], T], retries: int, backoff: Backoff, what: str, flag: str) -> T:
    """Run a whole operation (a push, a pull) again up to ``retries`` times on transient errors.

    This sits above the per-request retries: each try starts the operation over (blobs that
    already arrived are skipped by their digests).
    """
    for attempt in range(retries + 1):
        try:
            return run()
        except RegistryError as exc:
            if attempt == retries or not is_transient(exc):
                if retries and is_transient(exc):
                    exc.message = f"{exc.message} (after {retries + 1} tries of the {what})"
                    exc.args = (exc.message,)
                elif is_transient(exc) and not exc.hint:
                    exc.hint = f"the registry may recover: {flag} N retries the {what}"
                raise
            backoff.wait(attempt)
    raise RegistryError(f"{what} was not tried")  # unreachable: range() is never empty
