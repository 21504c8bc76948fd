#!/usr/bin/env python3
"""Summarizes async-profiler's collapsed stacks (recorded with 'threads') as Markdown tables.

The proxy's whole life is in the profile, start-up and JIT compilation included: threads are grouped, and the
request path (the client and upstream threads) is broken down apart from the rest, by what its innermost
frame is and by what it was doing.

    profile_summary.py FILE.collapsed
"""
import collections
import re
import sys

REQUEST_PATH = re.compile(r"^(client-\d+|upstream-\d+(-reader)?)$")

# Groups of threads, by the name async-profiler gives them ("[name tid=N]").
THREAD_GROUPS = [
    ("client (reads requests, writes them upstream)", re.compile(r"^client-")),
    ("upstream reader (reads replies, writes them to the client)", re.compile(r"^upstream-\d+-reader")),
    ("upstream writer (retransmissions, queued requests)", re.compile(r"^upstream-\d+$")),
    ("JIT compiler", re.compile(r"Compiler|C1 |C2 ")),
    ("garbage collector", re.compile(r"GC|VM Thread|G1|Conc")),
    ("start-up and the rest", re.compile(r".")),
]

# What the request path was doing, by the innermost frame of the stack that names one of these: a flush that
# runs inside WireInput.fill (its hook before a read waits) is writing, not reading.
ACTIVITIES = [
    ("reading a socket", ("WireInput.fill", "WireInput.readFully")),
    ("writing a socket", ("WireOutput.flush", "WireOutput.write")),
    ("waiting for a lock or a signal", ("Unsafe_Park", "LockSupport.park", "Object.wait", "ObjectMonitor::")),
]


def activity_of(frames):
    for f in reversed(frames):
        for label, names in ACTIVITIES:
            if any(name in f for name in names):
                return label
    return "other work"


def leaf_kind(frame):
    if frame.endswith("_[k]"):
        return "kernel (system calls, TCP)"
    if frame.startswith("org/flexnbd/"):
        return "the proxy's own Java code"
    if frame.startswith(("java/", "jdk/", "sun/")):
        return "JDK Java code"
    if re.match(r"^(__|mem|libc|pthread|read$|write$)", frame):
        return "libc (copies, system call entry)"
    return "JVM runtime (allocation, copying stubs, locks)"


def group_of(thread):
    for label, pattern in THREAD_GROUPS:
        if pattern.search(thread):
            return label
    return THREAD_GROUPS[-1][0]


def table(title, counter, total, rows=None):
    print(f"| {title} | share |")
    print("|---|---|")
    for key, n in counter.most_common(rows):
        print(f"| {key} | {100.0 * n / total:.1f}% |")
    print()


def main(path):
    total = 0
    threads = collections.Counter()
    path_total = 0
    kinds = collections.Counter()
    activities = collections.Counter()
    own = collections.Counter()
    leaves = collections.Counter()
    for line in open(path, encoding="utf-8", errors="replace"):
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        thread = re.sub(r"^\[(.*?)( tid=\d+)?\]$", r"\1", frames[0])
        total += n
        threads[group_of(thread)] += n
        if not REQUEST_PATH.match(thread):
            continue
        path_total += n
        frames = frames[1:]
        if not frames:
            continue
        kinds[leaf_kind(frames[-1])] += n
        leaves[frames[-1]] += n
        activities[activity_of(frames)] += n
        mine = [f for f in frames if f.startswith("org/flexnbd/")]
        if mine:
            own[mine[-1].replace("org/flexnbd/", "")] += n
    if total == 0:
        print("(no samples)")
        return
    print(f"{total} samples; {100.0 * path_total / total:.0f}% on the request path.")
    print()
    table("threads", threads, total)
    if path_total:
        table("request path: innermost frame is", kinds, path_total)
        table("request path: doing", activities, path_total)
        table("request path: innermost frame (top 12)", leaves, path_total, 12)
        table("request path: innermost proxy method (top 10)", own, path_total, 10)


if __name__ == "__main__":
    main(sys.argv[1])
