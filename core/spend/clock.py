"""What time it is, and when a day starts in a timezone (budget periods, forecasts, reports).

The ledger stores every time in UTC; a product manager's day is not always UTC's. Budgets count
days in a timezone (the workspace's, or one of their own: :mod:`core.spend.budgets`), so every
"today" of the spend side is a timezone's date of :func:`now`::

    local_today("America/Los_Angeles")                 # the date in Los Angeles now
    days_window(d, d, "America/Los_Angeles")           # [UTC start, UTC end) of that local day

:func:`now` is the real time, unless ``TRADEOFF_NOW`` names an instant (ISO 8601, e.g.
``2026-03-10T12:00:00Z``): tests and demos run the app at a fixed time that way, since a
browser test cannot reach the clock of the server it drives. Events (a call, an import) are
always stamped with the real time.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from core.errors import InputError
from core.settings import CLOCK_ENV, env_text

DEFAULT_TIMEZONE = "UTC"


def now() -> dt.datetime:
    """The current instant (aware, UTC), or the one ``TRADEOFF_NOW`` names.

    >>> now().tzinfo is not None
    True
    """
    frozen = env_text(CLOCK_ENV)
    if frozen is None:
        return dt.datetime.now(dt.UTC)
    try:
        when = dt.datetime.fromisoformat(frozen.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{CLOCK_ENV}: expected an ISO 8601 time such as 2026-03-10T12:00:00Z, "
                         f"got '{frozen}'") from None
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA timezone ``name``; an InputError naming the expected form otherwise.

    >>> zone("Europe/Paris").key
    'Europe/Paris'
    """
    try:
        return ZoneInfo(str(name).strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"Timezone: expected an IANA name such as UTC, Europe/Paris or "
                         f"America/New_York, got '{name}'") from None


def timezone_names() -> list[str]:
    """Every IANA zone name, UTC first (for a picker)."""
    return [DEFAULT_TIMEZONE] + sorted(available_timezones() - {DEFAULT_TIMEZONE})


def local_today(tz: str, at: dt.datetime | None = None) -> dt.date:
    """The date in ``tz`` at the instant ``at`` (default :func:`now`; a naive ``at`` is UTC).

    >>> at = dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC)
    >>> local_today("UTC", at), local_today("Asia/Tokyo", at), local_today("America/New_York", at)
    (datetime.date(2026, 3, 10), datetime.date(2026, 3, 11), datetime.date(2026, 3, 10))
    """
    instant = at or now()
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    return instant.astimezone(zone(tz)).date()


def local_midnight_utc(day: dt.date, tz: str) -> dt.datetime:
    """The UTC instant (naive, as the ledger stores times) at which ``day`` starts in ``tz``.

    >>> local_midnight_utc(dt.date(2026, 3, 10), "America/Los_Angeles")
    datetime.datetime(2026, 3, 10, 7, 0)
    """
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone(tz))
    return start.astimezone(dt.UTC).replace(tzinfo=None)


def days_window(first: dt.date, last: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC of the local days ``first`` to ``last`` inclusive."""
    return local_midnight_utc(first, tz), local_midnight_utc(last + dt.timedelta(days=1), tz)


__all__ = ["DEFAULT_TIMEZONE", "now", "zone", "timezone_names", "local_today", "local_midnight_utc",
           "days_window"]
