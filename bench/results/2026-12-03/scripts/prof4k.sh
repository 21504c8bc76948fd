#!/usr/bin/env bash
set -euo pipefail
here=/work/main/bench
. "$here/lib.sh"
LIB=/work/main/bench/target/async-profiler-4.1/linux-x64/libasyncProfiler.so
DIST=${1:?dist}; secs=${2:-15}; wl=${3:-randwrite:4k:32}; out=${4:-/tmp/exp/prof}; extra=${5:-}
IFS=: read rw bs qd <<<"$wl"
work=$(mktemp -d /dev/shm/flexnbd-prof.XXXXXX); trap cleanup EXIT
logs=$work/logs; mkdir -p $logs $out
cp -r "$DIST" $work/on; "$work/on/lib/train-class-data.sh" "$work/on" >&2 || true
cp -r "$DIST" $work/off; sed -i "s/^journalBytes=.*/journalBytes=0/" $work/off/config/org.flexnbd.upstream.cfg
"$work/off/lib/train-class-data.sh" "$work/off" >&2 || true
for n in on off; do start_upstream up-$n; proxy_bin=$work/$n/bin/flexnbd-proxy start_proxy $n "${upstream_port[up-$n]}"; done
size=1G; ramp=1; runtime=8
for p in on off; do fio_run "${uri[$p]}" $rw $bs $qd $extra >/dev/null; done
for p in on off; do
  pid=${pid_of[$p]}
  jcmd $pid "JVMTI.agent_load $LIB \"start,event=cpu,interval=100us,threads\"" >/dev/null
  c0=$(cpu_of $pid); runtime=$secs; res=$(fio_run "${uri[$p]}" $rw $bs $qd $extra); c1=$(cpu_of $pid)
  jcmd $pid "JVMTI.agent_load $LIB \"stop,file=$out/$p.collapsed,collapsed\"" >/dev/null
  echo -e "$p\t$res\tcpu $(echo "$c1 - $c0"|bc)"
done
