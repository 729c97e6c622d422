"""The option cases recorded from sysdig 0.29.3 (tools/make_option_goldens.py) and compared by tests/test_options.py."""

from __future__ import annotations

CAPTURES = ("falco/cat_write.scap.gz", "falco/connect_localhost.scap.gz", "sysdig-inspect/502Error.scap",
            "falco/psp_privileged.scap.gz", "sf-collector/alpine.scap")
#: case -> sysdig arguments after -r FILE
CASES = {
    "t_a": ["-t", "a", "-n", "2000"],
    "t_r": ["-t", "r", "-n", "2000"],
    "t_d": ["-t", "d", "-n", "2000"],
    "t_D": ["-t", "D", "-n", "2000"],
    "t_D_filter": ["-t", "D", "evt.type=read"],
    "b": ["-b", "-n", "2000"],
    "b_j": ["-b", "-j", "-n", "2000"],
    "v": ["-v", "-n", "2000"],
    "R": ["-R", "-p", "%evt.num %fd.name %fd.sproto %fd.cproto %evt.info"],
    "pc": ["-pc", "-n", "2000"],
    "E": ["-E", "-p", "*%evt.num %user.uid %user.name %group.name %user.homedir %user.shell %user.loginname"],
    "U_cat": ["-U", "cat", "-p", "%evt.num %proc.name %evt.type"],
    "U_bash": ["-U", "bash", "-U", "sh", "-p", "%evt.num %proc.name %evt.type", "-S"],
    "M": ["-M", "1", "-p", "%evt.num %evt.reltime"],
    "d": ["-d", "-n", "2000", "-S", "-p", "%evt.num %evt.deltatime %proc.name %evt.type", "evt.dir=<"],
    "capture_filter": ["-n", "2000", "-S", "-p", "%evt.num %evt.deltatime %proc.name %evt.type", "evt.dir=<"],
    "width": ["-n", "2000", "-p", "*%evt.num %12proc.name|%4evt.type|%6fd.num|"],
    "escapes": ["-n", "300", "-p", "%evt.num\\t%proc.name\\\\%evt.type"],
}
