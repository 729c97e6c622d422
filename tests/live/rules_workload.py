"""Actions like falcosecurity/event-generator's syscall actions, for the Falco rules live test. Needs root.

Every action runs in its own process (its pid is printed, so alerts can be attributed to it), inside a temp
dir this script creates and removes; actions on system paths (/etc, /usr/sbin, /dev, /var/log) run in a private
mount namespace over a tmpfs or a bind-mounted decoy, so the host's files are never read or written. Nothing
talks to the network. Prints {"tmp": dir, "actions": {name: pid}} as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PYTHON = sys.executable


def _in_mount_ns(script: str) -> list[str]:
    """``script`` (sh) in a private mount namespace: its mounts vanish with it."""
    return ["unshare", "-m", "--propagation", "private", "--", "sh", "-c", script]


def _as_daemon(argv: list[str]) -> list[str]:
    """Run as uid/gid 1 (daemon): the rules about non-root users."""
    return ["setpriv", "--reuid=1", "--regid=1", "--clear-groups", "--", *argv]


def actions(tmp: Path) -> dict[str, list[str]]:
    decoy = tmp / "decoy-shadow"
    decoy.write_text("root:!:19000:0:99999:7:::\n")
    (tmp / "junk").write_bytes(b"\0" * 4096)
    (tmp / "suid").write_text("#!/bin/sh\n")
    binaries = tmp / "bin"
    binaries.mkdir()
    for name, source in (("mysqld", "/bin/sh"), ("sudoedit", "/bin/true"), ("pkexec", "/bin/true")):
        shutil.copy(source, binaries / name)
    os.chmod(tmp, 0o755)  # the uid-1 actions exec binaries from here
    return {
        "search_private_keys": ["find", str(tmp), "-name", "id_rsa"],
        "find_aws_credentials": ["find", str(tmp), "-path", "*/.aws/credentials"],
        "remove_bulk_data": ["shred", "-u", str(tmp / "junk")],
        "symlink_over_shadow": ["ln", "-s", "/etc/shadow", str(tmp / "shadow-link")],
        "hardlink_over_shadow": _in_mount_ns(f"mount --bind {decoy} /etc/shadow && ln /etc/shadow {tmp}/hl; true"),
        "ptrace_traceme": [PYTHON, "-c", "import ctypes; ctypes.CDLL(None, use_errno=True).ptrace(0, 0, 0, 0)"],
        "read_shadow_untrusted": _in_mount_ns(f"mount --bind {decoy} /etc/shadow && cat /etc/shadow >/dev/null"),
        "write_below_etc": _in_mount_ns("mount -t tmpfs sysnb-lab /etc/default && touch /etc/default/sysnb-lab"),
        "mkdir_binary_dir": _in_mount_ns("mount -t tmpfs sysnb-lab /usr/sbin && mkdir /usr/sbin/sysnb-lab"),
        "write_binary_dir": _in_mount_ns("mount -t tmpfs sysnb-lab /usr/sbin && touch /usr/sbin/sysnb-lab"),
        "modify_binary_dir": _in_mount_ns("mount -t tmpfs sysnb-lab /usr/sbin && : > /usr/sbin/a && "
                                          "mv /usr/sbin/a /usr/sbin/b"),
        "create_file_below_dev": _in_mount_ns("mount -t tmpfs sysnb-lab /dev && touch /dev/sysnb-lab"),
        "clear_log": _in_mount_ns("mount -t tmpfs sysnb-lab /var/log && : > /var/log/messages"),
        "set_setuid_bit": ["chmod", "u+s", str(tmp / "suid")],
        "db_spawns_shell": [str(binaries / "mysqld"), "-c", "sh -c /usr/bin/id >/dev/null; exit 0"],
        "non_sudo_setuid": _as_daemon([PYTHON, "-c", "import os\ntry:\n os.setuid(0)\nexcept OSError:\n pass"]),
        "sudoedit_escalation": _as_daemon([str(binaries / "sudoedit"), "-s", "\\"]),
        "pkexec_no_args": _as_daemon([str(binaries / "pkexec")]),
        "stratum_miner": ["/bin/true", "stratum+tcp://127.0.0.1:3333"],
    }


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="sysnb-rules-live-"))
    pids: dict[str, int] = {}
    try:
        for name, argv in actions(tmp).items():
            proc = subprocess.Popen(argv, cwd=tmp, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            proc.wait(timeout=60)
            pids[name] = proc.pid
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"tmp": str(tmp), "actions": pids}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
