"""``-S``: the event summary exactly as sysdig 0.29.3 prints it.

sysdig counts events in a table of PPM_EVENT_MAX event-type entries followed by 2 x PPM_SC_MAX entries for
generic syscall events (enter and exit per syscall), sorts the whole table by count with ``std::sort`` (an
unstable introsort: equal counts end up in an order that depends on the algorithm) and prints the first 100
non-zero rows with the name cut or padded to 16 characters. The sort below is libstdc++'s, step for step, so
ties come out in sysdig's order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.scap.events import EVENTS, GENERIC_E, GENERIC_X, syscall_name

PPM_EVENT_MAX = 336  # the 2022 event table of sysdig 0.29.3
PPM_SC_MAX = 329
_THRESHOLD = 16

Less = Callable[[int, int], bool]


def new_counts() -> list[int]:
    """sysdig's summary table, all zero: event types, then generic syscall events (enter, exit per syscall)."""
    return [0] * (PPM_EVENT_MAX + 2 * PPM_SC_MAX)


def add_counts(rows: pa.Table, counts: list[int]) -> list[int]:
    """Count ``rows``' events into ``counts`` (one group-by over the batch)."""
    if rows.num_rows == 0:
        return counts
    keys = pa.table({"t": rows["sysnb.type_id"], "s": pc.fill_null(rows["sysnb.syscall_id"], 0)})
    grouped = keys.group_by(["t", "s"]).aggregate([("t", "count")])
    for tid, code, n in zip(*(grouped[c].to_pylist() for c in ("t", "s", "t_count")), strict=True):
        if tid in (GENERIC_E, GENERIC_X):
            k = PPM_EVENT_MAX + code * 2 + (tid & 1)
        else:
            k = tid
        if 0 <= k < len(counts):
            counts[k] += n
    return counts


def summary_counts(rows: pa.Table | list[int], limit: int = 100) -> list[tuple[str, int]]:
    """(``> name``, count) of the first ``limit`` rows of sysdig's sorted summary table, from the rows or
    from counts already added up (:func:`add_counts`, batch by batch)."""
    counts = add_counts(rows, new_counts()) if isinstance(rows, pa.Table) else rows
    order = list(range(len(counts)))
    std_sort(order, lambda a, b: counts[a] > counts[b])
    out = []
    for k in order[:limit]:
        if counts[k] == 0:
            break
        out.append((_name(k), counts[k]))
    return out


def _name(k: int) -> str:
    if k < PPM_EVENT_MAX:
        return f"{'<' if k & 1 else '>'} {EVENTS[k].name_2022}"
    code = k - PPM_EVENT_MAX
    return f"{'<' if code & 1 else '>'} {syscall_name(code // 2)}"


def summary_lines(rows: pa.Table | list[int]) -> Iterator[str]:
    yield "----------------------"
    yield "Event".ljust(16) + "#Calls"
    yield "----------------------"
    for name, n in summary_counts(rows):
        direction, event = name.split(" ", 1)
        yield f"{direction} {event.ljust(16)[:16]}{n}"


# -- libstdc++ std::sort ----------------------------------------------------------------------------------------


def std_sort(a: list[int], less: Less) -> None:
    """Sort ``a`` in place exactly as libstdc++'s std::sort (introsort, then a final insertion sort)."""
    n = len(a)
    if n < 2:
        return
    _introsort_loop(a, 0, n, (n.bit_length() - 1) * 2, less)
    if n > _THRESHOLD:
        _insertion_sort(a, 0, _THRESHOLD, less)
        for i in range(_THRESHOLD, n):
            _unguarded_linear_insert(a, i, less)
    else:
        _insertion_sort(a, 0, n, less)


def _introsort_loop(a: list[int], first: int, last: int, depth: int, less: Less) -> None:
    while last - first > _THRESHOLD:
        if depth == 0:
            _heap_sort(a, first, last, less)
            return
        depth -= 1
        mid = first + (last - first) // 2
        _move_median_to_first(a, first, first + 1, mid, last - 1, less)
        cut = _unguarded_partition(a, first + 1, last, first, less)
        _introsort_loop(a, cut, last, depth, less)
        last = cut


def _move_median_to_first(a: list[int], result: int, x: int, y: int, z: int, less: Less) -> None:
    if less(a[x], a[y]):
        pick = y if less(a[y], a[z]) else z if less(a[x], a[z]) else x
    else:
        pick = x if less(a[x], a[z]) else z if less(a[y], a[z]) else y
    a[result], a[pick] = a[pick], a[result]


def _unguarded_partition(a: list[int], first: int, last: int, pivot: int, less: Less) -> int:
    while True:
        while less(a[first], a[pivot]):
            first += 1
        last -= 1
        while less(a[pivot], a[last]):
            last -= 1
        if not first < last:
            return first
        a[first], a[last] = a[last], a[first]
        first += 1


def _insertion_sort(a: list[int], first: int, last: int, less: Less) -> None:
    for i in range(first + 1, last):
        if less(a[i], a[first]):
            value = a[i]
            a[first + 1:i + 1] = a[first:i]
            a[first] = value
        else:
            _unguarded_linear_insert(a, i, less)


def _unguarded_linear_insert(a: list[int], last: int, less: Less) -> None:
    value = a[last]
    prev = last - 1
    while less(value, a[prev]):
        a[last] = a[prev]
        last = prev
        prev -= 1
    a[last] = value


def _heap_sort(a: list[int], first: int, last: int, less: Less) -> None:
    """std::__partial_sort(first, last, last): make_heap then sort_heap."""
    n = last - first
    if n >= 2:
        parent = (n - 2) // 2
        while True:
            _adjust_heap(a, first, parent, n, a[first + parent], less)
            if parent == 0:
                break
            parent -= 1
    while last - first > 1:
        last -= 1
        value = a[last]
        a[last] = a[first]
        _adjust_heap(a, first, 0, last - first, value, less)


def _adjust_heap(a: list[int], first: int, hole: int, n: int, value: int, less: Less) -> None:
    top = hole
    child = hole
    while child < (n - 1) // 2:
        child = 2 * (child + 1)
        if less(a[first + child], a[first + child - 1]):
            child -= 1
        a[first + hole] = a[first + child]
        hole = child
    if n & 1 == 0 and child == (n - 2) // 2:
        child = 2 * (child + 1)
        a[first + hole] = a[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and less(a[first + parent], value):
        a[first + hole] = a[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[first + hole] = value
