#!/usr/bin/env bash
# The proxy against its peers on the same workloads, in one run: direct to nbdkit, through a blind socat
# relay, through qemu-nbd and nbdkit's nbd plugin (plain and with its retry filter) used as proxies, and
# through flexnbd-proxy. Every path runs each workload once per round, in an order that rotates, so the
# machine's drift hits all alike; the report gives medians and the proxy's ratios to the relay and direct.
#
#   bench/run.sh [--quick] [--rounds N] [--only SECTIONS] [--out DIR]
#
#   --quick       1 round, 2 s runs, 256 MiB copies: a smoke test of the harness; results go to a temporary
#                 folder (printed), never over the documented ones
#   --rounds N    rounds of the interleaved sections (default 3)
#   --only LIST   comma-separated sections: main, scaling, memory, startup, tls, pipe (default: all); the files
#                 of sections not run stay as an earlier run in the same folder left them, and are reported too
#   --out DIR     where tables, raw data and plots go (default: bench/results, plots into docs/)
#
# Sections (each writes SECTION.tsv; report.md has them all):
#   main      the six paths above, nbdcopy both ways (4 connections) and fio sequential and 4K random I/O
#   scaling   direct, relay and proxy: 4K random reads by queue depth, sequential reads by request size
#   memory    the proxy's resident memory with a client as fast as it can against a 100 MiB/s upstream
#   startup   process start to the port accepting, proxy and peers
#   tls       TLS on both sides (issue 11): an nbdkit upstream of its own with --tls=require, reached direct
#             (direct-tls), through nbdkit's nbd plugin (nbdkit-nbd-tls) and through the proxy (proxy-tls),
#             each TLS to its client and to its upstream; nbdcopy -C 1 both ways (with the CPU seconds per GiB
#             of the process in the middle) and fio 4K random read QD32; the proxy's ratios to nbdkit-nbd-tls
#             and direct-tls. Certificates are made for the run by tools/make-certs.sh
#   pipe      one connection's throughput and CPU per GiB against a relay: bench/pipe.sh
# main, scaling and startup share one plain upstream and its paths, started only when one of them runs.
#
# Build first: mvn -B -q install -DskipTests. Needs nbdkit, nbdcopy (libnbd-bin), qemu-nbd (qemu-utils),
# fio, socat, openssl (tls), and gnuplot-nox for the plots (apt-get install -y gnuplot-nox); none of it is
# needed by CI. Takes about 35 minutes with 3 rounds on 2 cores (40 with 4; tls about 4 of them). Everything
# binds to 127.0.0.1; every process started here is stopped by PID on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

proxy_bin=${FLEXNBD_DIST:-$here/../distribution/target/flexnbd-proxy}/bin/flexnbd-proxy
rounds=3 sections=main,scaling,memory,startup,tls,pipe out="" quick=0
size=1G bytes=$((1 << 30)) runtime=5 ramp=1 memtime=20
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1; rounds=1; runtime=2; ramp=0.5; memtime=8; size=256M; bytes=$((256 << 20)) ;;
        --rounds) rounds=${2:?}; shift ;;
        --only) sections=${2:?}; shift ;;
        --out) out=${2:?}; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
if [ -z "$out" ]; then
    if [ "$quick" = 1 ]; then out=${TMPDIR:-/tmp}/flexnbd-bench-quick; else out=$here/results; fi
fi
plots=$out
[ "$quick" = 0 ] && [ "$out" = "$here/results" ] && plots=$here/../docs

for tool in nbdkit nbdcopy qemu-nbd fio socat python3 awk; do
    command -v "$tool" >/dev/null || die "$tool is not installed (see the header of $0)"
done
[ -x "$proxy_bin" ] || die "build first: mvn -B -q install -DskipTests ($proxy_bin is missing)"
has() { [[ ",$sections," == *",$1,"* ]]; }
if has tls; then
    command -v openssl >/dev/null || die "openssl is not installed (the tls section makes its certificates with it)"
fi

work=$(mktemp -d /dev/shm/flexnbd-bench.XXXXXX)
trap cleanup EXIT
proxy_bin=$(copy_distribution "$(dirname "$proxy_bin")/.." dist)
proxy_built="tree at $(git -C "$here/.." log -1 --format='%h %s' 2>/dev/null || echo '(no git)'), distribution built $(date -u -r "$work/dist/lib" +%Y-%m-%dT%H:%MZ)"
logs=$out/logs
mkdir -p "$out" "$plots" "$logs"

# record FILE ROUND PATH WORKLOAD UNIT VALUE. A client that failed printed nothing (and why, on stderr):
# stop there rather than report a median of fewer runs.
record() {
    [ -n "$6" ] || die "no figure for $3, $4 (round $2)"
    printf '%s\t%s\t%s\t%s\t%s\n' "$2" "$3" "$4" "$5" "$6" >>"$1"
}

# --- setup: one upstream, every path to it (for the sections that use them) ----------------------------
head -c "$bytes" /dev/urandom >"$work/src.img"
if has main || has scaling || has startup; then
    start_upstream up
    up=${upstream_port[up]}
    start_relay relay "$up"
    start_qemu_nbd qemu-nbd "$up"
    start_nbdkit_nbd nbdkit-nbd "$up"
    start_nbdkit_nbd nbdkit-retry "$up" --filter=retry
    start_proxy proxy "$up" --max-clients 4
    proxy_idle_rss=$(rss_of "${pid_of[proxy]}")
    paths=(direct relay qemu-nbd nbdkit-nbd nbdkit-retry proxy)
    uri[direct]="nbd://127.0.0.1:$up"

    note "warming up: nbdkit's memory plugin is several times slower on the first write of each page"
    nbdcopy "$work/src.img" "${uri[direct]}"
    # One short pass through every path: connections made, the proxy's JIT compiled, as in a long-lived service.
    for p in "${paths[@]}"; do
        runtime=2 ramp=0 fio_run "${uri[$p]}" randread 4k 32 >/dev/null
        nbdcopy "${uri[$p]}" null:
    done
fi

# --- main: the table of issue 5 ------------------------------------------------------------------------
main_workload() { # FILE ROUND PATH WORKLOAD
    local f=$1 r=$2 p=$3 u=${uri[$3]} bw iops lat
    case $4 in
        copy-write) record "$f" "$r" "$p" "nbdcopy write 4 conns" MiB/s "$(nbdcopy_rate "$bytes" "$work/src.img" "$u")" ;;
        copy-read) record "$f" "$r" "$p" "nbdcopy read 4 conns" MiB/s "$(nbdcopy_rate "$bytes" "$u" null:)" ;;
        seq-write) IFS=$'\t' read -r bw _ _ < <(fio_run "$u" write 1M 16)
            record "$f" "$r" "$p" "fio 1M seq write QD16" MiB/s "$bw" ;;
        seq-read) IFS=$'\t' read -r bw _ _ < <(fio_run "$u" read 1M 16)
            record "$f" "$r" "$p" "fio 1M seq read QD16" MiB/s "$bw" ;;
        randread-1) IFS=$'\t' read -r _ iops lat < <(fio_run "$u" randread 4k 1)
            record "$f" "$r" "$p" "fio 4K randread QD1" IOPS "$iops"
            record "$f" "$r" "$p" "fio 4K randread QD1 latency" µs "$lat" ;;
        randread-32) IFS=$'\t' read -r _ iops _ < <(fio_run "$u" randread 4k 32)
            record "$f" "$r" "$p" "fio 4K randread QD32" IOPS "$iops" ;;
        randwrite-1) IFS=$'\t' read -r _ iops lat < <(fio_run "$u" randwrite 4k 1)
            record "$f" "$r" "$p" "fio 4K randwrite QD1" IOPS "$iops"
            record "$f" "$r" "$p" "fio 4K randwrite QD1 latency" µs "$lat" ;;
        randwrite-32) IFS=$'\t' read -r _ iops _ < <(fio_run "$u" randwrite 4k 32)
            record "$f" "$r" "$p" "fio 4K randwrite QD32" IOPS "$iops" ;;
    esac
}

run_main() {
    local f=$out/main.tsv r w p
    : >"$f"
    # The proxy's memory while it works: sampled through the whole section.
    : >"$out/main-rss.tsv"
    sample_rss "${pid_of[proxy]}" "$out/main-rss.tsv" 0.5 7200 & pids+=($!)
    local sampler=$!
    for r in $(seq 1 "$rounds"); do
        for w in copy-write copy-read seq-write seq-read randread-1 randread-32 randwrite-1 randwrite-32; do
            for p in $(rotated "$r" "${paths[@]}"); do main_workload "$f" "$r" "$p" "$w"; done
            note "main: round $r of $rounds: $w done"
        done
    done
    stop_pid "$sampler"
    {
        printf 'idle after start\t%s\n' "$proxy_idle_rss"
        printf 'after the main section\t%s\n' "$(rss_of "${pid_of[proxy]}")"
        printf 'peak sampled VmRSS\t%s\n' "$(sort -t$'\t' -k2 -g "$out/main-rss.tsv" | tail -1 | cut -f2)"
    } >"$out/memory-load.tsv"
}

# --- scaling: where the cost bends ----------------------------------------------------------------------
run_scaling() {
    local f=$out/scaling.tsv r qd bs p bw iops lat
    : >"$f"
    # The read-ahead cache (--cache, off by default) only matters for small sequential reads: its own instance.
    start_proxy proxy-cache "$up" --max-clients 4 --cache
    runtime=2 ramp=0 fio_run "${uri[proxy-cache]}" read 4k 1 >/dev/null
    for r in $(seq 1 "$rounds"); do
        for qd in 1 4 16 64 256; do
            for p in $(rotated "$r" direct relay proxy); do
                IFS=$'\t' read -r _ iops _ < <(fio_run "${uri[$p]}" randread 4k "$qd")
                record "$f" "$r" "$p" "4K randread QD$qd" IOPS "$iops"
            done
        done
        for bs in 4k 64k 1m 4m 32m; do
            for p in $(rotated "$r" direct relay proxy); do
                IFS=$'\t' read -r bw _ _ < <(fio_run "${uri[$p]}" read "$bs" 16)
                record "$f" "$r" "$p" "seq read ${bs^^} QD16" MiB/s "$bw"
            done
        done
        for p in $(rotated "$r" direct relay proxy proxy-cache); do
            IFS=$'\t' read -r _ iops lat < <(fio_run "${uri[$p]}" read 4k 1)
            record "$f" "$r" "$p" "seq read 4K QD1" IOPS "$iops"
            record "$f" "$r" "$p" "seq read 4K QD1 latency" µs "$lat"
        done
        note "scaling: round $r of $rounds done"
    done
    stop_pid "${pid_of[proxy-cache]}"
}

# --- memory: a client as fast as it can against a slow upstream ----------------------------------------
# The upstream takes 100 MiB/s (nbdkit's rate filter counts bits); fio queues far more than the proxy's
# 64 MiB bound (256 x 1 MiB; then 4 clients x 256 x 256 KiB). RSS must level off, not follow the queue.
# Twice: as the start script runs it (its serial collector and 64 MiB heap), and with JAVA_OPTS=-Xmx256m as
# an operator may set, to tell buffered payload from heap the JVM merely chose to keep. jstat shows the heap's
# own view.
memory_case() { # VARIANT JAVA_OPTS
    local v=$1 f=$out/memory-slow.tsv series=$out/memory-slow-rss-$1.tsv bw sampler jstat_pid=""
    : >"$series"
    JAVA_OPTS=$2 start_proxy "proxy-slow-$v" "${upstream_port[slow]}" --max-clients 4
    local pid=${pid_of[proxy-slow-$v]}
    printf '%s: idle\t%s\n' "$v" "$(rss_of "$pid")" >>"$f"
    sample_rss "$pid" "$series" 0.25 600 & pids+=($!); sampler=$!
    if command -v jstat >/dev/null; then
        jstat -gc "$pid" 1000 >"$out/memory-slow-jstat-$v.txt" 2>&1 & pids+=($!); jstat_pid=$!
    fi
    IFS=$'\t' read -r bw _ _ < <(runtime=$memtime ramp=0 fio_run "${uri[proxy-slow-$v]}" write 1M 256)
    printf '%s: after 1 client, 1M writes QD256, %s s (%s MiB/s)\t%s\n' "$v" "$memtime" "$bw" "$(rss_of "$pid")" >>"$f"
    printf '\n\n' >>"$series"   # a new data set for gnuplot: the second phase
    IFS=$'\t' read -r bw _ _ < <(runtime=$memtime ramp=0 fio_run "${uri[proxy-slow-$v]}" write 256k 256 --numjobs=4)
    printf '%s: after 4 clients, 256K writes QD256 each, %s s (%s MiB/s)\t%s\n' "$v" "$memtime" "$bw" "$(rss_of "$pid")" >>"$f"
    stop_pid "$sampler"
    [ -n "$jstat_pid" ] && stop_pid "$jstat_pid"
    stop_pid "$pid"
}

run_memory() {
    : >"$out/memory-slow.tsv"
    start_upstream slow --filter=rate rate=800M
    memory_case default ""
    memory_case xmx256m "-Xmx256m"
    stop_pid "${pid_of[slow]}"
}

# --- start-up: process start to the port accepting a connection ----------------------------------------
# Sets ms to the time from launch to the port accepting. Not in a $(subshell): a process started there would
# escape the EXIT trap if it failed.
time_to_listen() { # NAME START_FUNCTION ARGS...
    local name=$1 fn=$2 t0 t1; shift 2
    t0=$EPOCHREALTIME
    "$fn" "$name" "$@"   # the start_* functions return once the port accepts (polled every 20 ms)
    t1=$EPOCHREALTIME
    stop_pid "${pid_of[$name]}"
    ms=$(python3 -c "print('%.0f' % (($t1 - $t0) * 1000))")
}

run_startup() {
    local f=$out/startup.tsv i ms
    : >"$f"
    for i in 1 2 3 4 5; do
        time_to_listen t-proxy start_proxy "$up" --max-clients 4; record "$f" "$i" proxy start-up ms "$ms"
        time_to_listen t-relay start_relay "$up"; record "$f" "$i" relay start-up ms "$ms"
        time_to_listen t-qemu start_qemu_nbd "$up"; record "$f" "$i" qemu-nbd start-up ms "$ms"
        time_to_listen t-nbdkit start_nbdkit_nbd "$up"; record "$f" "$i" nbdkit-nbd start-up ms "$ms"
    done
}

# --- tls: TLS on both sides of every path (issue 11) ---------------------------------------------------
# An upstream of its own that requires TLS, and three ways to it, each TLS to its client and to its upstream:
# direct-tls (the reference), nbdkit's nbd plugin, and the proxy. One connection per client: nbdcopy -C 1 both
# ways, and fio's 4K random read at QD32. nbdcopy verifies the server's certificate (tls-certificates= in its
# URI); fio's engine cannot be given the folder (see lib.sh), so libnbd encrypts alike but checks no name there.
# The CPU seconds per GiB of the process in the middle (nbdkit or the proxy) are recorded beside each copy.
tls_workload() { # FILE ROUND PATH WORKLOAD
    local f=$1 r=$2 p=$3 u=${uri[$3]} pid="" c0="" rate cpu iops
    local v="$u?tls-certificates=$certs" # nbdcopy checks the server against the folder's ca-cert.pem
    [ "$p" = direct-tls ] || pid=${pid_of[$p]}
    case $4 in
        copy-write|copy-read)
            [ -n "$pid" ] && c0=$(cpu_of "$pid")
            if [ "$4" = copy-write ]; then
                rate=$(nbdcopy_rate "$bytes" "$work/src.img" "$v" -C 1)
            else
                rate=$(nbdcopy_rate "$bytes" "$v" null: -C 1)
            fi
            record "$f" "$r" "$p" "nbdcopy ${4#copy-} 1 conn" MiB/s "$rate"
            if [ -n "$pid" ]; then
                cpu=$(awk -v a="$c0" -v b="$(cpu_of "$pid")" -v n="$bytes" 'BEGIN { printf "%.3f", (b - a) / (n / 2^30) }')
                record "$f" "$r" "$p" "nbdcopy ${4#copy-} 1 conn, CPU of the middle" "CPU s/GiB" "$cpu"
            fi ;;
        randread-32) IFS=$'\t' read -r _ iops _ < <(fio_run "$u" randread 4k 32)
            record "$f" "$r" "$p" "fio 4K randread QD32" IOPS "$iops" ;;
    esac
}

run_tls() {
    local f=$out/tls.tsv r w p tls_paths=(direct-tls nbdkit-nbd-tls proxy-tls)
    : >"$f"
    certs=$work/certs
    "$here/../tools/make-certs.sh" "$certs"
    start_upstream up-tls --tls=require --tls-certificates="$certs"
    local tup=${upstream_port[up-tls]}
    uri[direct-tls]="nbds://127.0.0.1:$tup"
    start_nbdkit_nbd_tls nbdkit-nbd-tls "$tup" "$certs"
    start_proxy_tls proxy-tls "$tup" "$certs" --max-clients 4

    note "tls: warming up (the upstream's first writes, then each path once each way)"
    nbdcopy -C 1 "$work/src.img" "${uri[direct-tls]}?tls-certificates=$certs"
    for p in "${tls_paths[@]}"; do
        runtime=2 ramp=0 fio_run "${uri[$p]}" randread 4k 32 >/dev/null
        nbdcopy -C 1 "$work/src.img" "${uri[$p]}?tls-certificates=$certs"
        nbdcopy -C 1 "${uri[$p]}?tls-certificates=$certs" null:
    done
    for r in $(seq 1 "$rounds"); do
        for w in copy-write copy-read randread-32; do
            for p in $(rotated "$r" "${tls_paths[@]}"); do tls_workload "$f" "$r" "$p" "$w"; done
            note "tls: round $r of $rounds: $w done"
        done
    done
    for p in nbdkit-nbd-tls proxy-tls up-tls; do
        kill -0 "${pid_of[$p]}" 2>/dev/null || die "$p exited during the tls section (see $logs/$p.log)"
        stop_pid "${pid_of[$p]}"
    done
}

started=$(date -u +%Y-%m-%dT%H:%MZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)   # others' work on a shared machine shows here
has main && run_main
has scaling && run_scaling
has memory && run_memory
has startup && run_startup
has tls && run_tls
# pipe: one connection's cost per byte against a socat relay (and the original C proxy, with FLEXNBD_C), by
# bench/pipe.sh, which starts its own upstreams; its table is pipe.md.
has pipe && FLEXNBD_DIST=$work/dist "$here/pipe.sh" --rounds "$((rounds + 2))" --size "$size" --out "$out" >&2
{
    echo "started $started, finished $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "load average (1, 5, 15 min) at start $load_start, at end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "rounds $rounds, fio runs of ${runtime} s after ${ramp} s ramp, nbdcopy of $size"
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
        "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
    echo "peers: $(nbdkit --version), $(nbdcopy --version | head -1), $(qemu-nbd --version | head -1)," \
        "$(fio --version), $(socat -V | sed -n 's/^socat version \([^ ]*\).*/socat \1/p')"
    echo "proxy: $proxy_built; $(java -version 2>&1 | head -1)"
} >"$out/run-info.txt"

python3 "$here/report.py" "$out" | tee "$out/report.md"
if command -v gnuplot >/dev/null; then
    gnuplot -e "dir='$out'; plots='$plots'" "$here/plot.gp" && note "plots in $plots"
else
    note "gnuplot is not installed: no plots (apt-get install -y gnuplot-nox)"
fi
