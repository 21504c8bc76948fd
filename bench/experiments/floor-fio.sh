#!/usr/bin/env bash
# Issue 10's small-request targets against the floors of the two designs (see RelayFloor.java): fio 4 KiB random
# reads at QD1 (IOPS and mean completion latency) and QD32, and 4 KiB random writes at QD32, straight to the upstream
# ("direct"), through a socat relay, the proxy, RelayFloor on one event-loop thread ("loop") and on two blocking
# threads ("threads"), all to one oldstyle nbdkit memory upstream (RelayFloor speaks only oldstyle). Interleaved: every path runs each workload
# once per round, in an order that rotates. Prints medians and ratios to the relay; raw rows in DIR/floor-fio.tsv.
#
#   bench/experiments/floor-fio.sh [--rounds N] [--seconds N] [--out DIR]
#
# Build first: mvn -B -q install -DskipTests. Binds only to 127.0.0.1; every process started here is stopped by
# PID on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

proxy_bin=${FLEXNBD_DIST:-$here/../distribution/target/flexnbd-proxy}/bin/flexnbd-proxy
rounds=5 runtime=4 ramp=1 size=1G out=${TMPDIR:-/tmp}/flexnbd-floor-fio
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=${2:?}; shift ;;
        --seconds) runtime=${2:?}; shift ;;
        --out) out=${2:?}; shift ;;
        *) die "unknown argument $1" ;;
    esac
    shift
done
[ -x "$proxy_bin" ] || die "build first: mvn -B -q install -DskipTests"
work=$(mktemp -d /dev/shm/flexnbd-floor.XXXXXX)
trap cleanup EXIT
proxy_bin=$(copy_distribution "$(dirname "$proxy_bin")/.." dist)
logs=$out/logs
mkdir -p "$out" "$logs"

start_upstream old -o
start_relay relay "${upstream_port[old]}"
start_proxy proxy "${upstream_port[old]}" --handshake oldstyle
for mode in loop threads; do
    port=$(free_port)
    launch "$mode" "$port" env RELAY_FLOOR_MODE=$mode "$here/experiments/relay-floor" -l 127.0.0.1 -p "$port" \
        -C 127.0.0.1 -P "${upstream_port[old]}"
    await_port "$port" "$mode"
done
uri[direct]=${uri[old]}
paths=(direct relay proxy loop threads)

note "filling the upstream and warming up every path"
fio --name=fill --ioengine=nbd --uri="${uri[relay]}" --rw=write --bs=1M --iodepth=16 --size="$size" >/dev/null
for p in "${paths[@]}"; do
    runtime=3 ramp=0 fio_run "${uri[$p]}" randread 4k 32 >/dev/null
    runtime=3 ramp=0 fio_run "${uri[$p]}" randwrite 4k 32 >/dev/null
done

f=$out/floor-fio.tsv
: >"$f"
for r in $(seq 1 "$rounds"); do
    for p in $(rotated "$r" "${paths[@]}"); do
        IFS=$'\t' read -r _ iops lat < <(fio_run "${uri[$p]}" randread 4k 1)
        printf '%s\t%s\trandread QD1 IOPS\t%s\n%s\t%s\trandread QD1 latency us\t%s\n' "$r" "$p" "$iops" "$r" "$p" "$lat" >>"$f"
        IFS=$'\t' read -r _ iops _ < <(fio_run "${uri[$p]}" randread 4k 32)
        printf '%s\t%s\trandread QD32 IOPS\t%s\n' "$r" "$p" "$iops" >>"$f"
        IFS=$'\t' read -r _ iops _ < <(fio_run "${uri[$p]}" randwrite 4k 32)
        printf '%s\t%s\trandwrite QD32 IOPS\t%s\n' "$r" "$p" "$iops" >>"$f"
    done
    note "round $r of $rounds done"
done

python3 - "$f" <<'PY' | tee "$out/floor-fio.md"
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
paths = ["direct", "relay", "proxy", "loop", "threads"]
metrics = list(dict.fromkeys(r[2] for r in rows))
med = {(p, m): statistics.median(float(r[3]) for r in rows if r[1] == p and r[2] == m) for p in paths for m in metrics}
others = ("direct", "proxy", "loop", "threads")
print("| workload | " + " | ".join(paths) + " | " + " | ".join(f"{p} / relay" for p in others) + " |")
print("|---" * (len(paths) + len(others) + 1) + "|")
for m in metrics:
    cells = " | ".join(f"{med[(p, m)]:.0f}" if "IOPS" in m else f"{med[(p, m)]:.1f}" for p in paths)
    ratios = " | ".join(f"{med[(p, m)] / med[('relay', m)]:.2f}" for p in others)
    print(f"| {m} | {cells} | {ratios} |")
PY
