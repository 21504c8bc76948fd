#!/bin/bash
# fio 4K random write (and read) QD1 latency: relay, proxy with journal, proxy without; each path its own nbdkit.
export PATH=/usr/bin:$PATH
cd /tmp/qd1
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
declare -A port
i=0
for path in relay on off; do
  up=$((21700 + i*2)); px=$((up+1)); i=$((i+1))
  nbdkit -f -i 127.0.0.1 -p $up memory 1G & pids+=($!)
  sleep 0.5
  case $path in
    relay) socat -b 262144 TCP-LISTEN:$px,bind=127.0.0.1,reuseaddr,fork TCP:127.0.0.1:$up & pids+=($!) ;;
    *) /tmp/qd1/$path/bin/flexnbd-proxy -l 127.0.0.1 -p $px -C 127.0.0.1 -P $up > /tmp/qd1/$path.log 2>&1 & pids+=($!) ;;
  esac
  port[$path]=$px
done
sleep 4
# fill and warm
for path in relay on off; do
  fio --name=w --ioengine=nbd --uri=nbd://127.0.0.1:${port[$path]} --rw=write --bs=1m --size=1G --iodepth=16 >/dev/null 2>&1
done
order=(relay on off)
: > /tmp/qd1/results.tsv
for r in 1 2 3 4 5 6; do
  for k in 0 1 2; do
    path=${order[$(( (k + r) % 3 ))]}
    for rw in randwrite randread; do
      fio --name=q --ioengine=nbd --uri=nbd://127.0.0.1:${port[$path]} --rw=$rw --bs=4k --iodepth=1 --size=1G --time_based --runtime=4 --ramp_time=1 --output-format=json --output=/tmp/qd1/fio.json >/dev/null 2>&1
      lat=$(python3 -c 'import json; j=json.load(open("/tmp/qd1/fio.json"))["jobs"][0]; d=j["write"] if j["write"]["io_bytes"] else j["read"]; print(round(d["clat_ns"]["mean"]/1000,1), round(d["iops"]))')
      echo "$r $path $rw $lat" >> /tmp/qd1/results.tsv
    done
  done
done
python3 - <<'PY'
import statistics as st
rows=[l.split() for l in open('/tmp/qd1/results.tsv')]
for rw in ('randwrite','randread'):
    med={p: st.median(float(x[3]) for x in rows if x[1]==p and x[2]==rw) for p in ('relay','on','off')}
    print(rw, 'clat us medians', med, 'on/relay %.2f off/relay %.2f on/off %.2f' % (med['on']/med['relay'], med['off']/med['relay'], med['on']/med['off']))
PY
