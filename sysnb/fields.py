"""The field registry: every sysdig field sysnb knows, its type and description.

Drives ``-p`` formatting, ``sysnb -l``, and (later) the filter checker and completion.
A field is either a table column or derived from columns at output time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    description: str
    column: str | None = None  # the table column holding it, when stored


_F = [
    ("evt.num", "UINT64", "event number."),
    ("evt.time", "CHARBUF", "event timestamp as a time string that includes the nanosecond part."),
    ("evt.time.s", "CHARBUF", "event timestamp as a time string with no nanoseconds."),
    ("evt.datetime", "CHARBUF", "event timestamp as a time string that includes the date."),
    ("evt.rawtime", "ABSTIME", "absolute event timestamp, i.e. nanoseconds from epoch."),
    ("evt.rawtime.s", "ABSTIME", "integer part of the event timestamp (e.g. seconds since epoch)."),
    ("evt.rawtime.ns", "ABSTIME", "fractional part of the absolute event timestamp."),
    ("evt.outputtime", "CHARBUF", "the event timestamp as printed by the default output line."),
    ("evt.reltime", "RELTIME", "number of nanoseconds from the beginning of the capture."),
    ("evt.latency", "RELTIME", "delta between an exit event and the correspondent enter event, in nanoseconds."),
    ("evt.latency.s", "RELTIME", "integer part of the event latency delta."),
    ("evt.latency.ns", "RELTIME", "fractional part of the event latency delta."),
    ("evt.dir", "CHARBUF", "event direction can be either '>' for enter events or '<' for exit events."),
    ("evt.type", "CHARBUF", "The name of the event (e.g. 'open')."),
    ("evt.cpu", "INT16", "number of the CPU where this event happened."),
    ("evt.args", "CHARBUF", "all the event arguments, aggregated into a single string."),
    ("evt.info", "CHARBUF", "for most events, this field returns the same value as evt.args."),
    ("evt.buffer", "BYTEBUF", "the binary data buffer for events that have one, like read(), recvfrom(), etc."),
    ("evt.buflen", "UINT64", "the length of the binary data buffer for events that have one."),
    ("evt.res", "CHARBUF", "event return value, as a string: SUCCESS or an error code like ENOENT."),
    ("evt.rawres", "INT64", "event return value, as a number (e.g. -2)."),
    ("evt.failed", "BOOL", "'true' for events that returned an error status."),
    ("evt.category", "CHARBUF", "the event category, e.g. 'file', 'net', 'process'."),
    ("thread.tid", "INT64", "the id of the thread generating the event."),
    ("proc.pid", "INT64", "the id of the process generating the event."),
    ("proc.ppid", "INT64", "the pid of the parent of the process generating the event."),
    ("proc.name", "CHARBUF", "the name (excluding the path) of the executable generating the event."),
    ("proc.exe", "CHARBUF", "the first command line argument (usually the executable name or a custom one)."),
    ("proc.exepath", "CHARBUF", "the full executable path of the process."),
    ("proc.args", "CHARBUF", "the arguments passed on the command line when starting the process."),
    ("proc.cmdline", "CHARBUF", "full process command line, i.e. proc.name + proc.args."),
    ("proc.duration", "RELTIME", "ns since the process (thread) was started by a clone seen in the capture."),
    ("proc.cwd", "CHARBUF", "the current working directory of the event."),
    ("proc.pname", "CHARBUF", "the name (excluding the path) of the parent of the process generating the event."),
    ("proc.aname", "CHARBUF", "the name of one of the process ancestors: proc.aname[1] the parent, [2] the "
                              "grandparent, [0] the process; without an index (filters only) any ancestor."),
    ("proc.apid", "INT64", "the pid of one of the process ancestors: proc.apid[1] the parent pid, [0] the process; "
                           "without an index (filters only) any ancestor."),
    ("user.uid", "UINT32", "user ID."),
    ("user.name", "CHARBUF", "user name."),
    ("user.loginuid", "INT64", "audit user id (auid)."),
    ("group.gid", "UINT32", "group ID."),
    ("group.name", "CHARBUF", "group name."),
    ("container.id", "CHARBUF", "the container id ('host' for processes outside containers)."),
    ("container.name", "CHARBUF", "the container name ('host' for processes outside containers)."),
    ("container.image", "CHARBUF", "the container image name (e.g. falcosecurity/falco:latest for docker)."),
    ("fd.num", "INT64", "the unique number identifying the file descriptor."),
    ("fd.type", "CHARBUF", "type of FD: 'file', 'directory', 'ipv4', 'ipv6', 'unix', 'pipe', 'event', ..."),
    ("fd.typechar", "CHARBUF", "type of FD as a single character: 'f' file, '4' IPv4 socket, 'u' unix socket..."),
    ("fd.name", "CHARBUF", "FD full name: the path for files, the connection tuple for sockets."),
    ("fd.directory", "CHARBUF", "If the fd is a file, the directory that contains it."),
    ("fd.filename", "CHARBUF", "If the fd is a file, the filename without the path."),
    ("fd.sip", "IPADDR", "server IP address."),
    ("fd.sport", "PORT", "for TCP/UDP FDs, server port."),
    ("fd.cip", "IPADDR", "client IP address."),
    ("fd.cport", "PORT", "for TCP/UDP FDs, the client port."),
    ("fd.l4proto", "CHARBUF", "the IP protocol of a socket: 'tcp', 'udp', 'icmp' or 'raw'."),
    ("evt.arg", "CHARBUF", "one of the event arguments specified by name or by number, e.g. evt.arg.fd or "
     "evt.arg[0]. The value is rendered as in evt.args."),
    ("evt.rawarg", "DYNAMIC", "one of the event arguments specified by name, as its raw value, e.g. evt.rawarg.fd."),
]

FIELDS: dict[str, Field] = {n: Field(n, t, d) for n, t, d in _F}
ARG_FIELDS = ("evt.arg", "evt.rawarg")
