#!/usr/bin/env bash
# Throughput of the same workloads direct to nbdkit, through a blind socat relay, and through flexnbd-proxy,
# interleaved in one run so that the machine's drift hits every path alike. Prints medians and the ratios.
#
#   bench/run.sh [ROUNDS]        (default 3; build first: mvn -B -q install -DskipTests)
#
# Needs nbdkit, nbdcopy (libnbd-bin), fio and socat (see .ci/run). Everything binds to 127.0.0.1 and every
# process started here is stopped by PID on exit.
set -euo pipefail
export PATH=/usr/bin:/bin:$PATH
here=$(cd "$(dirname "$0")" && pwd)
dist=${FLEXNBD_DIST:-$here/../distribution/target/flexnbd-proxy}
rounds=${1:-3}
size=1G

for tool in nbdkit nbdcopy fio socat python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done
[ -x "$dist/bin/flexnbd-proxy" ] || { echo "bench: build first: mvn -B -q install -DskipTests" >&2; exit 1; }

work=$(mktemp -d /dev/shm/flexnbd-bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
await_port() {
    for _ in $(seq 1 200); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench: nothing listens on $1" >&2; exit 1
}

up=$(free_port); relay=$(free_port); proxy=$(free_port)
nbdkit -f -i 127.0.0.1 -p "$up" memory "$size" & pids+=($!)
await_port "$up"
socat -b 262144 TCP-LISTEN:"$relay",bind=127.0.0.1,reuseaddr,fork TCP:127.0.0.1:"$up" & pids+=($!)
"$dist/bin/flexnbd-proxy" -l 127.0.0.1 -p "$proxy" -C 127.0.0.1 -P "$up" --max-clients 4 & pids+=($!)
await_port "$relay"; await_port "$proxy"

head -c "$size" /dev/urandom > "$work/src.img"
nbdcopy "$work/src.img" "nbd://127.0.0.1:$up"     # nbdkit's memory plugin is slow on first writes: warm it up

declare -A uri=([direct]="nbd://127.0.0.1:$up" [relay]="nbd://127.0.0.1:$relay" [proxy]="nbd://127.0.0.1:$proxy")
results="$work/results.tsv"
seconds() { python3 -c 'import sys,time; print(time.time())'; }

fio_run() { # path rw bs depth -> MiB/s and IOPS
    # The nbd engine prints a line of its own on stdout: the JSON goes to a file.
    fio --name=b --ioengine=nbd --uri="${uri[$1]}" --rw="$2" --bs="$3" --iodepth="$4" --size="$size" \
        --time_based --runtime=5 --output-format=json --output="$work/fio.json" >/dev/null 2>&1
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]; d=j["read"] if j["read"]["io_bytes"] else j["write"]; print("%.1f\t%.0f" % (d["bw_bytes"]/1048576, d["iops"]))' "$work/fio.json"
}

for r in $(seq 1 "$rounds"); do
    for path in direct relay proxy; do
        t0=$(seconds); nbdcopy "$work/src.img" "${uri[$path]}"; t1=$(seconds)
        printf '%s\tnbdcopy write 4 conns\tMiB/s\t%s\n' "$path" "$(python3 -c "print('%.1f' % (1024/($t1-$t0)))")" >> "$results"
        t0=$(seconds); nbdcopy "${uri[$path]}" null:; t1=$(seconds)
        printf '%s\tnbdcopy read 4 conns\tMiB/s\t%s\n' "$path" "$(python3 -c "print('%.1f' % (1024/($t1-$t0)))")" >> "$results"
        IFS=$'\t' read -r bw _ < <(fio_run "$path" write 1M 16)
        printf '%s\tfio 1M write QD16\tMiB/s\t%s\n' "$path" "$bw" >> "$results"
        IFS=$'\t' read -r bw _ < <(fio_run "$path" read 1M 16)
        printf '%s\tfio 1M read QD16\tMiB/s\t%s\n' "$path" "$bw" >> "$results"
        IFS=$'\t' read -r _ iops < <(fio_run "$path" randread 4k 32)
        printf '%s\tfio 4K randread QD32\tIOPS\t%s\n' "$path" "$iops" >> "$results"
        IFS=$'\t' read -r _ iops < <(fio_run "$path" randread 4k 1)
        printf '%s\tfio 4K randread QD1\tIOPS\t%s\n' "$path" "$iops" >> "$results"
    done
    echo "bench: round $r of $rounds done" >&2
done

python3 - "$results" "$rounds" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
units = {}
order = []
for line in open(sys.argv[1]):
    path, workload, unit, value = line.rstrip("\n").split("\t")
    rows[(workload, path)].append(float(value))
    units[workload] = unit
    if workload not in order:
        order.append(workload)
print(f"medians of {sys.argv[2]} interleaved rounds; nbdkit memory upstream, loopback")
print(f"{'workload':24} {'unit':6} {'direct':>9} {'relay':>9} {'proxy':>9} {'proxy/relay':>12} {'proxy/direct':>13}")
for w in order:
    m = {p: statistics.median(rows[(w, p)]) for p in ("direct", "relay", "proxy")}
    print(f"{w:24} {units[w]:6} {m['direct']:9.0f} {m['relay']:9.0f} {m['proxy']:9.0f} "
          f"{m['proxy']/m['relay']:12.2f} {m['proxy']/m['direct']:13.2f}")
PY
