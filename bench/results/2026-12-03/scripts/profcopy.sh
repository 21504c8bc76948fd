#!/usr/bin/env bash
# profile the proxy during nbdcopy writes and reads (1 connection)
set -euo pipefail
here=/work/main/bench
. "$here/lib.sh"
LIB=/work/main/bench/target/async-profiler-4.1/linux-x64/libasyncProfiler.so
DIST=${1:?}; out=${2:-/tmp/exp/profcopy}; j=${3:-on}
work=$(mktemp -d /dev/shm/flexnbd-pc.XXXXXX); trap cleanup EXIT
logs=$work/logs; mkdir -p $logs $out
cp -r "$DIST" $work/p; "$work/p/lib/train-class-data.sh" "$work/p" >&2 || true
[ "$j" = off ] && sed -i "s/^journalBytes=.*/journalBytes=0/" $work/p/config/org.flexnbd.upstream.cfg
head -c 1G /dev/urandom > $work/src.img
start_upstream up; proxy_bin=$work/p/bin/flexnbd-proxy start_proxy p "${upstream_port[up]}"
pid=${pid_of[p]}
for i in 1 2 3; do nbdcopy $work/src.img ${uri[p]} -C 1 -R 64; nbdcopy ${uri[p]} $work/dst.img -C 1 -R 64; done
for dir in write read; do
  jcmd $pid "JVMTI.agent_load $LIB \"start,event=cpu,interval=100us,threads\"" >/dev/null
  c0=$(cpu_of $pid)
  for i in 1 2; do if [ $dir = write ]; then nbdcopy $work/src.img ${uri[p]} -C 1 -R 64; else nbdcopy ${uri[p]} $work/dst.img -C 1 -R 64; fi; done
  c1=$(cpu_of $pid)
  jcmd $pid "JVMTI.agent_load $LIB \"stop,file=$out/$dir.collapsed,collapsed\"" >/dev/null
  echo "$dir cpu per GiB $(echo "($c1 - $c0)/2" | bc -l)"
done
