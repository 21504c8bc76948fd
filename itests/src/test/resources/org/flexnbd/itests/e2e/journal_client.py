#!/usr/bin/python3
"""An NBD client for JournalIT, through the proxy: libnbd's Python binding, one request at a time.

The test and this client signal each other with files in a folder of the test's (DIR/written, DIR/go, DIR/stop).
Every libnbd error ends the client at once (exit 3): across an upstream crash the proxy must hide the loss of its
upstream connection, so the client may see none. Mismatched data is no error here: it is counted and printed on
stdout for the test to judge.

  journal_client.py crash URI DIR OFFSET BLOCKS BLOCK_SIZE NEW_FILE OLD_FILE
      Writes BLOCKS blocks of NEW_FILE at OFFSET (no FLUSH), creates DIR/written, waits for DIR/go, sends FLUSH,
      reads every block back and prints, per block, "block I new|old|other" (OLD_FILE: what the region held
      before), then "summary new=N old=N other=N".

  journal_client.py storm URI DIR BASE_FILE SEED FLUSH_EVERY
      BASE_FILE is the whole export as it was before. Random 4 KiB-aligned requests of 4-64 KiB, one in ten a
      WRITE_ZEROES and the rest WRITEs, while it keeps the expected content of the export; after every
      FLUSH_EVERY of them a FLUSH and a read-back of the whole export against the expectation. Creates
      DIR/written once its first requests were answered; on DIR/stop (or after 120 s) a last FLUSH and read-back,
      then one line of JSON: counts, mismatched 4 KiB blocks, the slowest request, the expected sha256.
"""
import hashlib
import json
import os
import random
import sys
import time

import nbd

CHUNK = 1 << 20
PAGE = 4096


def wait_for(path, seconds):
    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            sys.exit("journal_client: no %s after %d s" % (path, seconds))
        time.sleep(0.02)


def touch(path):
    with open(path, "w"):
        pass


def crash(uri, folder, offset, blocks, bsize, new_file, old_file):
    with open(new_file, "rb") as f:
        new = f.read()
    with open(old_file, "rb") as f:
        old = f.read()
    assert len(new) == len(old) == blocks * bsize, "data files of the wrong size"
    h = nbd.NBD()
    h.connect_uri(uri)
    if not h.can_flush():
        sys.exit("journal_client: the export offers no FLUSH")
    for i in range(blocks):
        h.pwrite(new[i * bsize:(i + 1) * bsize], offset + i * bsize)
    touch(os.path.join(folder, "written"))
    wait_for(os.path.join(folder, "go"), 60)
    h.flush()
    counts = {"new": 0, "old": 0, "other": 0}
    for i in range(blocks):
        got = h.pread(bsize, offset + i * bsize)
        if got == new[i * bsize:(i + 1) * bsize]:
            kind = "new"
        elif got == old[i * bsize:(i + 1) * bsize]:
            kind = "old"
        else:
            kind = "other"
        counts[kind] += 1
        print("block %d %s" % (i, kind))
    h.shutdown()
    print("summary new=%d old=%d other=%d" % (counts["new"], counts["old"], counts["other"]))


def verify(h, expected, lo, hi, mismatches):
    """Reads [lo, hi) of the export back; returns the number of 4 KiB pages that differ from the expectation."""
    bad = 0
    for off in range(lo, hi, CHUNK):
        n = min(CHUNK, hi - off)
        got = h.pread(n, off)
        if got != expected[off:off + n]:
            for p in range(0, n, PAGE):
                if got[p:p + PAGE] != expected[off + p:off + p + PAGE]:
                    bad += 1
                    if len(mismatches) < 10:
                        mismatches.append(off + p)
    return bad


def storm(uri, folder, base_file, seed, flush_every, lo=0, hi=None):
    """Verified random writes within [lo, hi) of the export (all of it by default); another client may own the rest."""
    with open(base_file, "rb") as f:
        expected = bytearray(f.read())
    size = len(expected)
    hi = size if hi is None else hi
    rnd = random.Random(seed)
    h = nbd.NBD()
    h.connect_uri(uri)
    if h.get_size() != size or not h.can_flush():
        sys.exit("journal_client: export of %d bytes, flush %s; expected %d bytes with flush"
                 % (h.get_size(), h.can_flush(), size))
    stats = {"seed": seed, "writes": 0, "zeroes": 0, "flushes": 0, "verifies": 0, "mismatched_pages": 0,
             "failed_verifies": 0, "first_mismatches": [], "slowest_ms": 0.0}
    stop = os.path.join(folder, "stop")
    deadline = time.monotonic() + 120
    ops = 0

    def timed(fn, *args):
        t = time.monotonic()
        r = fn(*args)
        stats["slowest_ms"] = max(stats["slowest_ms"], round((time.monotonic() - t) * 1000, 1))
        return r

    def flush_and_verify():
        timed(h.flush)
        stats["flushes"] += 1
        bad = verify(h, expected, lo, hi, stats["first_mismatches"])
        stats["verifies"] += 1
        if bad:
            stats["mismatched_pages"] += bad
            stats["failed_verifies"] += 1

    while not os.path.exists(stop) and time.monotonic() < deadline:
        length = rnd.randint(1, 16) * PAGE
        offset = lo + rnd.randrange(0, (hi - lo - length) // PAGE + 1) * PAGE
        if rnd.random() < 0.1:
            timed(h.zero, length, offset)
            expected[offset:offset + length] = bytes(length)
            stats["zeroes"] += 1
        else:
            data = rnd.randbytes(length)
            timed(h.pwrite, data, offset)
            expected[offset:offset + length] = data
            stats["writes"] += 1
        ops += 1
        if ops == 10:
            touch(os.path.join(folder, "written"))
        if ops % flush_every == 0:
            flush_and_verify()
    flush_and_verify()
    h.shutdown()
    stats["sha256"] = hashlib.sha256(expected[lo:hi]).hexdigest()
    print(json.dumps(stats))


def main():
    try:
        if sys.argv[1] == "crash":
            uri, folder, offset, blocks, bsize, new_file, old_file = sys.argv[2:]
            crash(uri, folder, int(offset), int(blocks), int(bsize), new_file, old_file)
        elif sys.argv[1] == "storm":
            uri, folder, base_file, seed, flush_every = sys.argv[2:7]
            region = [int(x) for x in sys.argv[7:9]] or [0, None]
            storm(uri, folder, base_file, int(seed), int(flush_every), region[0], region[1])
        else:
            sys.exit("journal_client: unknown mode " + sys.argv[1])
    except nbd.Error as e:
        print("journal_client: NBD error: %s (errno %s)" % (e.string, e.errno), file=sys.stderr)
        sys.exit(3)


if __name__ == "__main__":
    main()
