"""The syslog protocol decoder of libsinsp: writes to a /dev/log socket get a readable evt.info.

sysdig shows ``syslog sev=notice msg=...`` instead of the raw arguments for write
exits on an fd whose name contains ``/dev/log`` when the data starts with ``<PRI>``.
"""

from __future__ import annotations

SEVERITIES = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")
_PRI_MAX = 15  # libsinsp's PRI_BUF_SIZE - 1


def is_syslog_name(name: str) -> bool:
    return "/dev/log" in name


FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "clock", "authpriv",
              "ftp", "ntp", "logaudit", "logalert", "cron", "local0", "local1", "local2", "local3", "local4",
              "local5", "local6", "local7")


def decode(data: bytes) -> tuple[int, int, str] | None:
    """(facility, severity, message) of a syslog datagram ``<PRI>message``, None when it does not parse."""
    j = 0
    while 1 + j < len(data) and j < _PRI_MAX and data[1 + j] not in (0x3E, 0):  # '>' or NUL
        j += 1
    pri = data[1:1 + j]
    if j == 0 or len(data) < j + 2 or not pri.isdigit():
        return None
    return int(pri) >> 3, int(pri) & 0x07, data[j + 2:].decode("utf-8", "surrogateescape")


def facility_name(code: int) -> str:
    return FACILITIES[code] if 0 <= code < len(FACILITIES) else "<unknown>"


def info_line(data: bytes) -> str | None:
    """``syslog sev=SEVERITY msg=MESSAGE`` for a syslog datagram, None when it does not parse."""
    parsed = decode(data)
    if parsed is None:
        return None
    return f"syslog sev={SEVERITIES[parsed[1]]} msg={parsed[2]}"
