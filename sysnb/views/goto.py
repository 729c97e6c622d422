"""Go to a time: the text of the explorer's "go to" box as a capture time in nanoseconds.

Accepted, as an analyst would type them:

* ``+1.5s``, ``2s``, ``750ms``, ``30us``, ``120ns``, ``1m``: an offset from the capture's first event (what the
  time column shows in its "since start" mode);
* ``19:43:36``, ``19:43:36.808090824``: a time of day as the event table prints it (local time, as sysdig;
  TZ=UTC for UTC), on the day the capture starts (the next day when that is before the capture);
* ``2019-04-11T19:43:36.8``, with ``Z`` or ``+02:00`` for another zone: an ISO 8601 time.
"""

from __future__ import annotations

import datetime as dt
import re
import time

from sysnb.errors import UsageError

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
          "h": 3_600_000_000_000}
_OFFSET = re.compile(r"^\+?\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s|m|h)$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$")
NS = 1_000_000_000


def parse_time(text: str, start_ns: int) -> int:
    """The capture time (ns since the epoch) that ``text`` names; UsageError with the accepted forms when
    it names none."""
    s = text.strip()
    m = _OFFSET.match(s)
    if m:
        return start_ns + round(float(m.group(1)) * _UNITS[m.group(2)])
    m = _CLOCK.match(s)
    if m:
        return _time_of_day(start_ns, int(m.group(1)), int(m.group(2)), int(m.group(3)),
                            int((m.group(4) or "0").ljust(9, "0")))
    try:
        when = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"cannot go to {text!r}: give an evt.num, an offset (+1.5s, 750ms), a time of day "
                         "(19:43:36.808) or an ISO time (2019-04-11T19:43:36.8)") from None
    if when.tzinfo is None:
        when = when.astimezone()  # local time, as the table prints it
    return int(when.timestamp()) * NS + when.microsecond * 1_000


def _time_of_day(start_ns: int, hour: int, minute: int, second: int, nanos: int) -> int:
    if hour > 23 or minute > 59 or second > 60:
        raise UsageError(f"{hour:02}:{minute:02}:{second:02} is not a time of day")
    day = time.localtime(start_ns // NS)
    midnight = int(time.mktime((day.tm_year, day.tm_mon, day.tm_mday, 0, 0, 0, 0, 0, -1)))
    at = (midnight + hour * 3600 + minute * 60 + second) * NS + nanos
    return at + 86_400 * NS if at + NS < start_ns else at
