#!/usr/bin/env bash
# fio workload through proxy variants; IOPS and the proxy's CPU per request (us). VARIANT: name|DISTDIR|journal(on/off)|JAVA_OPTS
# CPU=loop counts the event loop thread's CPU alone (loopcpu.sh), otherwise the whole process's.
set -euo pipefail
here=/work/main/bench
. "$here/lib.sh"
rounds=${1:?}; runtime=${2:?}; WL=${3:?}; shift 3; ramp=1; size=1G
IFS=: read rw bs qd extra <<<"$WL"
work=$(mktemp -d /dev/shm/flexnbd-var.XXXXXX); trap cleanup EXIT
logs=$work/logs; mkdir -p $logs
names=()
loop_cpu() { # the event loop thread's utime+stime, seconds
  local t; for t in /proc/$1/task/*; do
    if grep -q loop "$t/comm" 2>/dev/null; then awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "$t/stat"; return; fi
  done; echo 0
}
measure() { if [ "${CPU:-process}" = loop ]; then loop_cpu "$1"; else cpu_of "$1"; fi; }
for v in "$@"; do
  IFS='|' read name dist j jo <<<"$v"
  cp -r "$dist" $work/$name
  [ "$j" = off ] && sed -i "s/^journalBytes=.*/journalBytes=0/" $work/$name/config/org.flexnbd.upstream.cfg
  "$work/$name/lib/train-class-data.sh" "$work/$name" >&2 || true
  printf '#!/bin/sh\nexport JAVA_OPTS="%s"\nexec %s "$@"\n' "$jo" "$work/$name/bin/flexnbd-proxy" > $work/$name.sh; chmod +x $work/$name.sh
  start_upstream up-$name
  proxy_bin=$work/$name.sh start_proxy $name "${upstream_port[up-$name]}"
  names+=($name)
done
for n in "${names[@]}"; do fio --name=f --ioengine=nbd --uri=${uri[$n]} --rw=write --bs=1M --iodepth=16 --size=1G >/dev/null 2>&1; done
for n in "${names[@]}"; do runtime=3 fio_run "${uri[$n]}" $rw $bs $qd $extra >/dev/null; done
for r in $(seq 1 $rounds); do
  for n in $(rotated $r "${names[@]}"); do
    pid=${pid_of[$n]}; c0=$(measure $pid)
    res=$(fio_run "${uri[$n]}" $rw $bs $qd $extra)
    c1=$(measure $pid)
    echo -e "$r\t$n\t$res\t$(python3 -c "print('%.2f' % (($c1-$c0)*1e6/($(echo "$res"|cut -f2)*($runtime+$ramp))))")"
  done
done > $work/res.tsv
python3 - $work/res.tsv "${names[@]}" <<'PY'
import sys, statistics as st, collections
d=collections.defaultdict(dict)
for l in open(sys.argv[1]):
    r,n,mb,iops,lat,us=l.split('\t'); d[n][int(r)]=(float(iops),float(us))
names=sys.argv[2:]
b=names[0]
for n in names:
    rs=[d[n][r][0]/d[b][r][0] for r in d[n] if r in d[b]]
    cs=[d[n][r][1]/d[b][r][1] for r in d[n] if r in d[b]]
    print(f"{n:10s} IOPS {st.median(v[0] for v in d[n].values()):8.0f}  us/req {st.median(v[1] for v in d[n].values()):6.2f}   vs {b}: IOPS per-round median {st.median(rs):.3f}  cpu/req {st.median(cs):.3f}")
PY
cp $work/res.tsv ${OUT:-/tmp/exp/var4k.last.tsv}
