#!/usr/bin/env bash
# Minor faults and CPU of the proxy per GiB of nbdcopy writes, variants (experiment).
# usage: faults.sh DIST ROUNDS VARIANT... where VARIANT is name|journal(on/off)|JAVA_OPTS|ENV (ENV: a=b,c=d)
set -euo pipefail
here=/work/main/bench
. "$here/lib.sh"
DIST=${1:?dist}; rounds=${2:-3}; shift 2
work=$(mktemp -d /dev/shm/flexnbd-faults.XXXXXX); trap cleanup EXIT
logs=$work/logs; mkdir -p $logs
cp -r "$DIST" $work/on; "$work/on/lib/train-class-data.sh" "$work/on" >&2 || true
cp -r "$DIST" $work/off; sed -i "s/^journalBytes=.*/journalBytes=0/" $work/off/config/org.flexnbd.upstream.cfg
"$work/off/lib/train-class-data.sh" "$work/off" >&2 || true
head -c 1G /dev/urandom > $work/src.img
names=()
for v in "$@"; do
  IFS='|' read name j jo envs <<<"$v"
  start_upstream up-$name
  { echo '#!/bin/sh'; IFS=,; for e in $envs; do echo "export $e"; done; unset IFS; echo "export JAVA_OPTS='$jo'"; echo "exec $work/$j/bin/flexnbd-proxy \"\$@\""; } > $work/$name.sh
  chmod +x $work/$name.sh
  proxy_bin=$work/$name.sh start_proxy $name "${upstream_port[up-$name]}"; echo "${pid_of[$name]}" > $work/$name.pid
  names+=($name)
done
flt() { awk '{print $10}' /proc/$1/stat; }
for n in "${names[@]}"; do nbdcopy $work/src.img nbd://127.0.0.1:$(ss -ltnp | awk -v p="pid=$(cat $work/$n.pid)," '$0 ~ p {split($4,a,":"); print a[2]}' | head -1) -C 1 -R 64; done
for r in $(seq 1 $rounds); do
  for n in $(rotated $r "${names[@]}"); do
    pid=$(cat $work/$n.pid); port=$(ss -ltnp | awk -v p="pid=$pid," '$0 ~ p {split($4,a,":"); print a[2]}' | head -1)
    c0=$(cpu_of $pid); f0=$(flt $pid)
    rate=$(nbdcopy_rate $((1<<30)) $work/src.img nbd://127.0.0.1:$port -C 1 -R 64)
    c1=$(cpu_of $pid); f1=$(flt $pid)
    echo -e "$r\t$n\t$rate\t$(echo "$c1 - $c0" | bc)\t$((f1-f0))"
  done
done | tee $work/res.tsv
python3 - $work/res.tsv <<'PY'
import sys, statistics as st, collections
d=collections.defaultdict(list)
for l in open(sys.argv[1]):
    r,n,rate,cpu,f=l.split('\t'); d[n].append((float(rate),float(cpu),int(f)))
for n,v in d.items():
    print(f"{n:10s} MiB/s {st.median(x[0] for x in v):7.1f}  cpu/GiB {st.median(x[1] for x in v):5.2f}  minflt {st.median(x[2] for x in v):8.0f}")
PY
