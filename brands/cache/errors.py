"""What the cache service raises. Bad input is a TypeError (as in the contract's JavaScript API);
an unreachable Redis is CacheUnavailable (admin operations, or when the caller asks for it)."""

from __future__ import annotations


class CacheKeyError(TypeError):
    """A key that is not a 1-200 character string of [a-zA-Z0-9_.:-]."""


class CacheTTLError(TypeError):
    """A TTL that is given but is not a finite number greater than 0."""


class CacheValueError(TypeError):
    """A value that cannot be serialised as JSON, or an increment amount that is not finite."""


class NotANumberError(TypeError):
    """``increment`` on a key whose stored value is not a JSON number."""


class CacheUnavailable(Exception):
    """Redis cannot be reached."""

    def __init__(self, message: str = "The cache (Redis) is unavailable.") -> None:
        super().__init__(message)


class ImportInterrupted(CacheUnavailable):
    """Redis became unreachable during an import. ``report`` is what happened up to then:
    ``written`` lines confirmed by Redis, ``interrupted_at`` the first line not confirmed, and
    ``unconfirmed`` lines sent whose answer never came (they may or may not be written)."""

    def __init__(self, report) -> None:
        super().__init__()
        self.report = report
