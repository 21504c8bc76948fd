#!/usr/bin/env bash
# The proxy's cost per byte against a blind pipe: one nbdcopy connection (-C 1 -R 64) copying to and from an
# nbdkit memory upstream, through a socat relay and through the proxy, and, against an oldstyle upstream, also
# through the original C flexnbd-proxy when FLEXNBD_C names its binary, and through another build of this proxy
# (path "base", for a before and after in one run) when FLEXNBD_BASE names its distribution folder. For each path: MiB/s, and CPU seconds
# per GiB of the relaying process (utime + stime, children included, from /proc/PID/stat). Paths alternate in
# an order that rotates each round; the report gives medians and the proxy's ratios to the relay.
#
#   bench/pipe.sh [--rounds N] [--size 1G] [--connections N] [--requests N] [--out DIR]
#
# With --connections N (default 1), nbdcopy uses N connections (-C N) and the proxies serve N clients; the
# original C proxy, which serves one client, is then left out. With --requests N (default 64), nbdcopy keeps N
# requests in flight per connection (-R N): what the proxy holds for retransmission is N of nbdcopy's 256 KiB
# requests, so this shows what the depth of that window costs in CPU against a relay, which holds nothing.
#
# Build first: mvn -B -q install -DskipTests. The original: build BytemarkHosting/flexnbd-c with make (needs
# libev-dev) and set FLEXNBD_C=/path/to/build/flexnbd-proxy. Binds only to 127.0.0.1; every process started
# here is stopped by PID on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

proxy_bin=${FLEXNBD_DIST:-$here/../distribution/target/flexnbd-proxy}/bin/flexnbd-proxy
rounds=5 size=1G conns=1 depth=64 out=${TMPDIR:-/tmp}/flexnbd-bench-pipe
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=${2:?}; shift ;;
        --size) size=${2:?}; shift ;;
        --connections) conns=${2:?}; shift ;;
        --requests) depth=${2:?}; shift ;;
        --out) out=${2:?}; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
bytes=$(numfmt --from=iec "$size")
[ -x "$proxy_bin" ] || die "build first: mvn -B -q install -DskipTests ($proxy_bin is missing)"

work=$(mktemp -d /dev/shm/flexnbd-pipe.XXXXXX)
trap cleanup EXIT
proxy_bin=$(copy_distribution "$(dirname "$proxy_bin")/.." dist)
logs=$out/logs
mkdir -p "$out" "$logs"

start_upstream up
start_upstream old -o
start_relay relay "${upstream_port[up]}"
start_proxy proxy "${upstream_port[up]}" --max-clients "$conns"
start_relay relay-old "${upstream_port[old]}"
start_proxy proxy-old "${upstream_port[old]}" --handshake oldstyle --max-clients "$conns"
paths=(relay proxy relay-old proxy-old)
if [ -n "${FLEXNBD_BASE:-}" ]; then
    base_bin=$(copy_distribution "$FLEXNBD_BASE" base)
    port=$(free_port)
    launch base "$port" "$base_bin" -l 127.0.0.1 -p "$port" -C 127.0.0.1 -P "${upstream_port[up]}" \
        --max-clients "$conns"
    await_port "$port" base
    paths+=(base)
fi
if [ -n "${FLEXNBD_C:-}" ] && [ "$conns" = 1 ]; then
    port=$(free_port)
    launch original "$port" "$FLEXNBD_C" -l 127.0.0.1 -p "$port" -C 127.0.0.1 -P "${upstream_port[old]}" -q
    await_port "$port" original
    paths+=(original)
fi

head -c "$bytes" /dev/urandom >"$work/src.img"
note "warming up every path (nbdkit's first writes are slow; the proxy's JIT compiles for several copies)"
for p in "${paths[@]}"; do
    for _ in 1 2 3; do
        nbdcopy -C "$conns" -R "$depth" "$work/src.img" "${uri[$p]}"
        nbdcopy -C "$conns" -R "$depth" "${uri[$p]}" null:
    done
done

f=$out/pipe.tsv
: >"$f"
for r in $(seq 1 "$rounds"); do
    for dir in write read; do
        for p in $(rotated "$r" "${paths[@]}"); do
            pid=${pid_of[$p]}
            if [ "$dir" = write ]; then src=$work/src.img dst=${uri[$p]}; else src=${uri[$p]} dst=null:; fi
            c0=$(cpu_of "$pid") t0=$EPOCHREALTIME
            nbdcopy -C "$conns" -R "$depth" "$src" "$dst" || die "nbdcopy $src $dst failed"
            t1=$EPOCHREALTIME
            sleep 0.3 # socat's child is reaped, and its time counted, once it has exited
            c1=$(cpu_of "$pid")
            python3 -c "print('%d\t%s\t%s\t%.1f\t%.3f' % ($r, '$p', '$dir', $bytes / 1048576 / ($t1 - $t0), ($c1 - $c0) / ($bytes / 2**30)))" >>"$f"
        done
    done
    note "round $r of $rounds done"
done

{ echo "nbdcopy -C $conns -R $depth, $size each way, $rounds rounds"; echo; } | tee "$out/pipe.md"
python3 - "$f" <<'PY' | tee -a "$out/pipe.md"
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
med = {}
for key in {(p, d) for _, p, d, _, _ in rows}:
    sel = [r for r in rows if (r[1], r[2]) == key]
    med[key] = (statistics.median(float(r[3]) for r in sel), statistics.median(float(r[4]) for r in sel))
print("| path | direction | MiB/s | CPU s/GiB |")
print("|---|---|---|---|")
for (p, d), (bw, cpu) in sorted(med.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    print(f"| {p} | {d} | {bw:.0f} | {cpu:.2f} |")
print()
print("| ratio | direction | throughput | CPU per GiB |")
print("|---|---|---|---|")
for a, b in (("proxy", "relay"), ("proxy-old", "relay-old"), ("proxy-old", "original"), ("base", "relay"),
             ("proxy", "base")):
    for d in ("write", "read"):
        if (a, d) in med and (b, d) in med:
            print(f"| {a} / {b} | {d} | {med[(a, d)][0] / med[(b, d)][0]:.2f} | {med[(a, d)][1] / med[(b, d)][1]:.2f} |")
PY
