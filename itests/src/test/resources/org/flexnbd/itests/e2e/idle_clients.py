"""Many idle NBD clients in one process, for ClientMemoryIT.

    idle_clients.py URI TOTAL RELEASE

Starts TOTAL connections, 20 ms apart, each in a thread of its own (libnbd lets go of the GIL while it waits): a
client the server holds unanswered simply waits, in the listen backlog (16 deep: RELEASE should be less, or the
later ones depend on the kernel's SYN retries). Once the number connected has stood still for 5 s (at most 120 s),
prints "served N"; then closes RELEASE of them and, once it stands still again (at most 60 s), prints "then M" and
"failed F" (connections refused or ended with an error). Every line is flushed at once.
"""
import os
import sys
import threading
import time

import nbd

uri, total, release = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lock = threading.Lock()
served = []
failed = []


def connect(i):
    h = nbd.NBD()
    h.set_uri_allow_local_file(True)
    try:
        h.connect_uri(uri)
        h.pread(512, 0)  # served for real, not only greeted
        with lock:
            served.append(h)
    except nbd.Error as e:
        with lock:
            failed.append(str(e))


def settle(limit):
    deadline = time.monotonic() + limit
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        with lock:
            n = len(served) + len(failed)
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= 5:
            break
        time.sleep(0.1)


for i in range(total):
    threading.Thread(target=connect, args=(i,), daemon=True).start()
    time.sleep(0.02)
settle(120)
with lock:
    print("served", len(served), flush=True)
    gone = served[:release]
    del served[:release]
for h in gone:
    h.shutdown()  # NBD_CMD_DISC: the server ends the connection
del gone
settle(60)
with lock:
    print("then", len(served), flush=True)
    print("failed", len(failed), *failed[:3], flush=True)
    for h in served:
        h.shutdown()
# The clients still waiting are inside libnbd's connect: no interpreter shutdown around them.
os._exit(0)
