#!/usr/bin/env bash
# Where the proxy's time goes: async-profiler (from Maven Central) attached to flexnbd-proxy in front of an
# nbdkit memory upstream, one fio workload per case, and a summary of the samples by thread and by kind of
# work (kernel, JVM, JDK, the proxy's own code) in results/profile.md.
#
#   bench/profile.sh [--event cpu|wall|alloc] [--flame] [--seconds N] [CASE...]
#
#   CASE       rw:bs:depth, fio's names (default: randread:4k:1 randread:4k:32 randread:4k:256 read:1m:16
#              write:1m:16)
#   --event    async-profiler's event: cpu (default; falls back to itimer where perf events are not allowed),
#              wall (where threads wait too), alloc (what allocates, sampled every 512 KiB)
#   --flame    also an HTML flame graph per case (a second run of it), beside the raw stacks in
#              results/profile-raw/ (not committed); the figures reported are the first run's
#   --seconds  length of each fio run (default 20); the profile covers the proxy's whole life, so the summary
#              keeps start-up and JIT threads apart from the threads that carry requests
#
# Build first: mvn -B -q install -DskipTests. Needs nbdkit, fio, python3 and Maven (for the profiler's jar).
# Everything binds to 127.0.0.1; every process started here is stopped by PID on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

event=cpu flame=0 seconds=20 cases=()
while [ $# -gt 0 ]; do
    case $1 in
        --event) event=${2:?}; shift ;;
        --flame) flame=1 ;;
        --seconds) seconds=${2:?}; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown argument $1 (see --help)" ;;
        *) cases+=("$1") ;;
    esac
    shift
done
[ ${#cases[@]} -gt 0 ] || cases=(randread:4k:1 randread:4k:32 randread:4k:256 read:1m:16 write:1m:16)
proxy_bin=${FLEXNBD_DIST:-$here/../distribution/target/flexnbd-proxy}/bin/flexnbd-proxy
[ -x "$proxy_bin" ] || die "build first: mvn -B -q install -DskipTests ($proxy_bin is missing)"
for tool in nbdkit fio python3; do command -v "$tool" >/dev/null || die "$tool is not installed"; done

version=4.1
agent_dir=$here/target/async-profiler-$version
agent=$agent_dir/linux-x64/libasyncProfiler.so
if [ ! -f "$agent" ]; then
    for tool in mvn unzip; do command -v "$tool" >/dev/null || die "$tool is not installed"; done
    [ "$(uname -m)" = x86_64 ] || die "this script fetches the linux-x64 build of async-profiler only"
    note "fetching async-profiler $version from Maven Central"
    mvn -B -q dependency:copy -Dartifact="tools.profiler:async-profiler:$version:jar:linux-x64" \
        -DoutputDirectory="$agent_dir"
    unzip -q -o "$agent_dir/async-profiler-$version-linux-x64.jar" 'linux-x64/*' -d "$agent_dir"
fi

out=$here/results
raw=$out/profile-raw
logs=$raw
mkdir -p "$raw"
work=$(mktemp -d /dev/shm/flexnbd-profile.XXXXXX)
trap cleanup EXIT
size=1G runtime=$seconds ramp=0

start_upstream up
case $event in
    alloc) interval=${INTERVAL:-524288} ;;   # bytes between samples
    *) interval=${INTERVAL:-1ms} ;;
esac
summaries=()
for c in "${cases[@]}"; do
    IFS=: read -r rw bs depth <<<"$c"
    name=$event-$rw-$bs-qd$depth
    formats=(collapsed)
    [ "$flame" = 1 ] && formats+=(html)
    for format in "${formats[@]}"; do
        # The agent writes its file when the JVM exits: one proxy per output.
        JAVA_OPTS="-agentpath:$agent=start,event=$event,interval=$interval,threads,file=$raw/$name.$format" \
            start_proxy "proxy-$name-$format" "${upstream_port[up]}"
        IFS=$'\t' read -r b i l < <(fio_run "${uri[proxy-$name-$format]}" "$rw" "$bs" "$depth")
        [ "$format" = collapsed ] && bw=$b iops=$i lat=$l
        pid=${pid_of[proxy-$name-$format]}
        kill -TERM "$pid" 2>/dev/null || true   # a clean exit, so that the profile is written
        wait "$pid" 2>/dev/null || true
        forget_pid "$pid"
    done
    note "$name: $bw MiB/s, $iops IOPS, $lat µs mean latency"
    summaries+=("$name|fio $rw $bs QD$depth, $seconds s: $bw MiB/s, $iops IOPS, $lat µs mean latency")
done

{
    echo "# Profiles ($event)"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(git -C "$here/.." log -1 --format='%h %s' 2>/dev/null)," \
        "async-profiler $version, $("${JAVA_HOME:+$JAVA_HOME/bin/}java" -version 2>&1 | head -1)"
    for s in "${summaries[@]}"; do
        echo
        echo "## ${s#*|}"
        echo
        python3 "$here/profile_summary.py" "$raw/${s%%|*}.collapsed"
    done
} >"$out/profile-$event.md"
note "summary in $out/profile-$event.md; raw stacks in $raw"
