"""Summaries of py-spy's raw (collapsed) output: per thread, where the samples go.

A line of `py-spy record --format raw --threads` is `thread (0x...): NAME;frame;frame;... count`,
each frame `function (file:line)`. With --idle, samples of a thread that waits (on the GIL, a lock,
a socket: e.g. libpq waiting for PostgreSQL) are kept too, so shares are of wall time. C functions
are not shown: time inside psycopg2's `execute`/`copy_expert` is on the Python line that calls them,
hence the line numbers on leaf frames.

The main thread is summarized over the samples under `focus` (run_execute): Django's start-up
is not part of a run.
"""
from __future__ import annotations

import collections
import re
from pathlib import Path

_REPO = str(Path(__file__).resolve().parent.parent) + "/"
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _short(frame: str, *, line: bool) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    file = match.group("file")
    for marker in ("/site-packages/", _REPO, "/lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    if line and match.group("line"):
        file += ":" + match.group("line")
    return f"{match.group('func')} ({file})"


def summarize(raw: Path, top: int = 15, focus: str = "run_execute") -> str:
    leaf: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    inclusive: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    totals: collections.Counter = collections.Counter()
    for text in Path(raw).read_text().splitlines():
        stack, _, count = text.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        thread = frames[0].split(": ", 1)[-1]
        if thread.startswith("heartbeat-"):
            continue  # sleeps between beats
        if thread == "MainThread" or thread.startswith("thread ("):  # the main thread is unnamed at first
            if not any(f.startswith(focus + " (") for f in frames):
                continue  # start-up: imports, django.setup()
            thread = f"MainThread, within {focus}"
        n = int(count)
        totals[thread] += n
        body = frames[1:]
        leaf[thread][_short(body[-1], line=True) if body else "(no Python frame)"] += n
        for frame in {_short(f, line=False) for f in body}:
            inclusive[thread][frame] += n
    out = []
    for thread, total in totals.most_common():
        out.append(f"thread {thread}: {total} samples (shares of wall time; waiting included)")
        out.append("  self (leaf line; a C call's time is on the line calling it):")
        for frame, n in leaf[thread].most_common(top):
            out.append(f"    {100 * n / total:5.1f}%  {frame}")
        out.append("  inclusive:")
        shown = 0
        for frame, n in inclusive[thread].most_common():
            if frame.split(" (")[0] in ("Thread._bootstrap", "Thread._bootstrap_inner", "Thread.run", "<module>",
                                        "main"):
                continue
            out.append(f"    {100 * n / total:5.1f}%  {frame}")
            shown += 1
            if shown == top:
                break
        out.append("")
    return "\n".join(out)
