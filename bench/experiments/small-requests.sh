#!/usr/bin/env bash
# 4 KiB random I/O through builds of the proxy side by side, and through a socat relay, each path in front of an
# nbdkit memory upstream of its own (newstyle, every feature: fio negotiates structured replies): fio random reads
# at QD1 (IOPS, mean completion latency) and QD32, random writes at QD1 and QD32, and each proxy's CPU per request (its
# process's CPU time over fio's requests). A before and after of a change to the small-request path, where
# floor-fio.sh sets the proxy against the floors on an oldstyle upstream shared by every path. Interleaved: every
# path runs each workload once per round, in an order that rotates. Prints medians and ratios to the relay; raw
# rows in DIR/small-requests.tsv.
#
#   bench/experiments/small-requests.sh [--rounds N] [--seconds N] [--out DIR] DIST...
#
#   DIST       distribution folders (distribution/target/flexnbd-proxy, or copies of other builds); each path is
#              named after its folder
# Binds only to 127.0.0.1; every process started here is stopped by PID on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

rounds=5 runtime=4 ramp=1 size=1G out=${TMPDIR:-/tmp}/flexnbd-small-requests dists=()
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=${2:?}; shift ;;
        --seconds) runtime=${2:?}; shift ;;
        --out) out=${2:?}; shift ;;
        -*) die "unknown argument $1" ;;
        *) dists+=("$1") ;;
    esac
    shift
done
[ ${#dists[@]} -gt 0 ] || die "name at least one distribution folder"
work=$(mktemp -d /dev/shm/flexnbd-small.XXXXXX)
trap cleanup EXIT
logs=$out/logs
mkdir -p "$out" "$logs"

paths=()
for d in "${dists[@]}"; do
    p=$(basename "$d")
    [ -z "${pid_of[$p]:-}" ] || die "two distribution folders named $p: name copies apart"
    [ -x "$d/bin/flexnbd-proxy" ] || die "$d/bin/flexnbd-proxy is missing"
    bin=$(copy_distribution "$d" "$p")
    start_upstream "up-$p"
    port=$(free_port)
    launch "$p" "$port" "$bin" -l 127.0.0.1 -p "$port" -C 127.0.0.1 -P "${upstream_port[up-$p]}"
    await_port "$port" "$p"
    paths+=("$p")
done
start_upstream up-relay
start_relay relay "${upstream_port[up-relay]}"
paths+=(relay)

note "filling every upstream and warming up every path"
for p in "${paths[@]}"; do
    fio --name=fill --ioengine=nbd --uri="nbd://127.0.0.1:${upstream_port[up-$p]}" --rw=write --bs=1M \
        --iodepth=16 --size="$size" >/dev/null 2>&1 || die "filling up-$p failed"
    runtime=3 ramp=0 fio_run "${uri[$p]}" randread 4k 32 >/dev/null
    runtime=3 ramp=0 fio_run "${uri[$p]}" randwrite 4k 32 >/dev/null
done

# One fio run on PATH; appends its rows: IOPS, latency, and CPU µs per request for a proxy.
measure() { # ROUND PATH RW DEPTH
    local r=$1 p=$2 rw=$3 depth=$4 c0 c1 iops lat name
    name="$rw QD$depth"
    [ "$p" = relay ] || c0=$(cpu_of "${pid_of[$p]}")
    IFS=$'\t' read -r _ iops lat < <(fio_run "${uri[$p]}" "$rw" 4k "$depth")
    printf '%s\t%s\t%s IOPS\t%s\n' "$r" "$p" "$name" "$iops" >>"$f"
    [ "$depth" = 1 ] && printf '%s\t%s\t%s latency us\t%s\n' "$r" "$p" "$name" "$lat" >>"$f"
    if [ "$p" != relay ]; then
        c1=$(cpu_of "${pid_of[$p]}")
        # The ramp's requests are left out of fio's count but not of the CPU time: the same share for every proxy.
        python3 -c "print('%s\t%s\t%s CPU us per request\t%.2f' % ('$r', '$p', '$name', ($c1 - $c0) * 1e6 / ($iops * $runtime)))" >>"$f"
    fi
}

f=$out/small-requests.tsv
: >"$f"
for r in $(seq 1 "$rounds"); do
    for p in $(rotated "$r" "${paths[@]}"); do
        measure "$r" "$p" randread 1
        measure "$r" "$p" randread 32
        measure "$r" "$p" randwrite 1
        measure "$r" "$p" randwrite 32
    done
    note "round $r of $rounds done"
done

python3 - "$f" "${paths[@]}" <<'PY' | tee "$out/small-requests.md"
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
paths = sys.argv[2:]
metrics = list(dict.fromkeys(r[2] for r in rows))
med = {}
for p in paths:
    for m in metrics:
        v = [float(r[3]) for r in rows if r[1] == p and r[2] == m]
        if v:
            med[(p, m)] = statistics.median(v)
proxies = [p for p in paths if p != "relay"]
print("| measure | " + " | ".join(paths) + " | " + " | ".join(f"{p} / relay" for p in proxies) + " |")
print("|---" * (len(paths) + len(proxies) + 1) + "|")
for m in metrics:
    cells = " | ".join(f"{med[(p, m)]:.{0 if 'IOPS' in m else 1 if 'latency' in m else 2}f}" if (p, m) in med else "" for p in paths)
    ratios = " | ".join(f"{med[(p, m)] / med[('relay', m)]:.2f}" if ('relay', m) in med else "" for p in proxies)
    print(f"| {m} | {cells} | {ratios} |")
PY
