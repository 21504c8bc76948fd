#!/usr/bin/env bash
# relay / base / hack, each in front of its own nbdkit memory 1G; fio 4k randread QD1 & QD32, 5 rounds rotating.
set -u
OUT=/tmp/direct-fio
BASE=/work/wt/base-dist HACK=/work/wt/direct/distribution/target/flexnbd-proxy
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; sleep 1; for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; }
trap cleanup EXIT
waitport() { for _ in $(seq 1 120); do (echo >/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.5; done; echo "port $1 never came" >&2; exit 1; }
declare -A port
i=0
for p in relay base hack; do
  up=$((21100 + i)); fr=$((21200 + i)); i=$((i+1))
  nbdkit -f -p $up -i 127.0.0.1 memory 1G & pids+=($!)
  waitport $up
  case $p in
    relay) socat TCP-LISTEN:$fr,bind=127.0.0.1,reuseaddr,fork TCP:127.0.0.1:$up & pids+=($!) ;;
    base) $BASE/bin/flexnbd-proxy -l 127.0.0.1 -p $fr -C 127.0.0.1 -P $up >$OUT/base.log 2>&1 & pids+=($!) ;;
    hack) $HACK/bin/flexnbd-proxy -l 127.0.0.1 -p $fr -C 127.0.0.1 -P $up >$OUT/hack.log 2>&1 & pids+=($!) ;;
  esac
  waitport $fr
  port[$p]=$fr
done
paths=(relay base hack)
for p in "${paths[@]}"; do  # fill once, and warm up
  fio --name=fill --ioengine=nbd --uri=nbd://127.0.0.1:${port[$p]} --rw=write --bs=1M --iodepth=8 --size=1G --output=/dev/null || exit 1
  fio --name=warm --ioengine=nbd --uri=nbd://127.0.0.1:${port[$p]} --rw=randread --bs=4k --iodepth=32 --size=1G --time_based --runtime=5 --output=/dev/null || exit 1
done
: > $OUT/fio.tsv
for r in 1 2 3 4 5; do
  for qd in 1 32; do
    for k in 0 1 2; do
      p=${paths[$(((k + r) % 3))]}
      fio --name=rr --ioengine=nbd --uri=nbd://127.0.0.1:${port[$p]} --rw=randread --bs=4k --iodepth=$qd --size=1G \
          --time_based --runtime=10 --ramp_time=1 --output-format=json --output=$OUT/r$r-$p-qd$qd.json || exit 1
      python3 -c "
import json;j=json.load(open('$OUT/r$r-$p-qd$qd.json'))['jobs'][0]['read']
print('$r\t$p\t$qd\t%.0f\t%.2f' % (j['iops'], j['lat_ns']['mean']/1000))" >> $OUT/fio.tsv
    done
  done
  echo "round $r done $(date +%T)" >&2
done
python3 - <<'PY' | tee $OUT/fio.md
import statistics as st
rows=[l.split('\t') for l in open('/tmp/direct-fio/fio.tsv')]
m={}
for p in ('relay','base','hack'):
    for qd in ('1','32'):
        s=[r for r in rows if r[1]==p and r[2]==qd]
        m[p,qd]=(st.median(float(r[3]) for r in s), st.median(float(r[4]) for r in s))
print('| path | QD | IOPS | mean lat us | IOPS/relay | lat/relay |')
print('|---|---|---|---|---|---|')
for qd in ('1','32'):
    for p in ('relay','base','hack'):
        i,l=m[p,qd]; ri,rl=m['relay',qd]
        print(f'| {p} | {qd} | {i:.0f} | {l:.1f} | {i/ri:.2f} | {l/rl:.2f} |')
PY
