#!/usr/bin/env bash
# N idle clients (python-libnbd, one process) through a proxy DIST with --max-clients N: after a full collection,
# the DirectByteBuffer objects alive and the JDK's direct memory in use (BufferPoolMXBean "direct", by jcmd's
# VM.native_memory is not on; read from the histogram), and the process's VmRSS.
set -euo pipefail
here=/work/main/bench
. "$here/lib.sh"
DIST=${1:?dist}; n=${2:-300}
work=$(mktemp -d /dev/shm/flexnbd-idle.XXXXXX); trap cleanup EXIT
logs=$work/logs; mkdir -p $logs
cp -r "$DIST" $work/p
start_upstream up
proxy_bin=$work/p/bin/flexnbd-proxy start_proxy p "${upstream_port[up]}" --max-clients "$n"
pid=${pid_of[p]}
port=$(ss -ltnp | awk -v p="pid=$pid," '$0 ~ p {split($4,a,":"); print a[2]}' | head -1)
python3 - "$port" "$n" "$pid" <<'PY' &
import nbd, sys, time, os
port, n = sys.argv[1], int(sys.argv[2])
hs = []
for i in range(n):
    h = nbd.NBD(); h.connect_uri(f"nbd://127.0.0.1:{port}"); h.pread(4096, 0); hs.append(h)
open(f"/dev/shm/idle-ready-{sys.argv[3]}", "w").close()
time.sleep(60)
PY
py=$!; pids+=($py)
for _ in $(seq 1 120); do [ -e /dev/shm/idle-ready-$pid ] && break; sleep 0.5; done
rm -f /dev/shm/idle-ready-$pid
sleep 2
jcmd $pid GC.run >/dev/null
sleep 1
echo "clients $n  DirectByteBuffer $(jcmd $pid GC.class_histogram | awk '$4=="java.nio.DirectByteBuffer" {print $2}')  rss $(rss_of $pid)"
kill $py 2>/dev/null || true
