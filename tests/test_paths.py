"""Path joining must behave as libsinsp's concatenate_paths, quirks included."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sysnb.format.paths import _sanitize_into, as_cwd, concatenate_paths


@pytest.mark.parametrize(("base", "path", "want"), [
    ("/home/x/", ".", "/home/x"),           # a trailing "." is dropped, then the trailing "/"
    ("/", "..", "/"),                       # never rewinds above the root
    ("/a/b/", "../c", "/a/c"),
    ("/a/", "./b/", "/a/b"),
    ("/tmp/", "x/../../y", "/y"),
    ("", "/tmp/", "/tmp"),
    ("/", "a\x01b", "/a.b"),                # control characters become "."
    ("/a/", "b.", "/a/b"),                  # libsinsp quirk: "b." loses its dot
    ("/", "a./b", "/ab"),                   # libsinsp quirk: "./" is skipped even inside a name
])
def test_libsinsp_examples(base: str, path: str, want: str) -> None:
    assert concatenate_paths(base, path) == want


@settings(max_examples=3000, deadline=None)
@given(base=st.sampled_from(["", "/", "/a/", "/a/b/", "/x//", "//", "/a", "/a.b/"]),
       path=st.text(alphabet="ab./\x01", max_size=12))
def test_fast_path_equals_reference(base: str, path: str) -> None:
    reference = _sanitize_into(list(base), path) if path and not path.startswith("/") else _sanitize_into([], path)
    assert concatenate_paths(base, path) == reference


def test_cwd_always_ends_with_a_separator() -> None:
    assert as_cwd(concatenate_paths("", "/home/faraujo")) == "/home/faraujo/"
    assert as_cwd(concatenate_paths("", "")) == "/"
