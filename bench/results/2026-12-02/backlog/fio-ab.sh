#!/usr/bin/env bash
# A/B of two distributions (A=$1, B=$2) under fio reads; each proxy in front of its own nbdkit memory 1G.
set -e
A=$1 B=$2 rounds=${3:-5}
export PATH=/usr/bin:$PATH
pids=()
trap 'kill ${pids[@]} 2>/dev/null' EXIT
start() { # name dist nbdport proxyport
  nbdkit -f -i 127.0.0.1 -p $3 memory 1G & pids+=($!)
  sleep 0.5
  $2/bin/flexnbd-proxy -l 127.0.0.1 -p $4 -C 127.0.0.1 -P $3 > /tmp/ab-$1.log 2>&1 & pids+=($!); eval pid_$1=$!
}
start A $A 10931 10932; start B $B 10933 10934
sleep 4
for p in 10932 10934; do fio --name=f --ioengine=nbd --uri=nbd://127.0.0.1:$p --rw=write --bs=1M --iodepth=16 --size=1G >/dev/null; done
run() { fio --name=b --ioengine=nbd --uri=nbd://127.0.0.1:$1 --rw=$2 --bs=$3 --iodepth=$4 --size=1G --time_based --runtime=4 --ramp_time=1 --output-format=json --output=/tmp/ab.json >/dev/null 2>&1
  python3 -c "import json;j=json.load(open('/tmp/ab.json'))['jobs'][0]['read'];print('%.1f\t%.0f\t%.1f'%(j['bw_bytes']/1048576,j['iops'],j['clat_ns']['mean']/1000))"; }
for p in 10932 10934; do run $p randread 4k 32 >/dev/null; run $p read 1M 16 >/dev/null; done
for r in $(seq 1 $rounds); do
  if [ $((r % 2)) = 0 ]; then order="B:10934 A:10932"; else order="A:10932 B:10934"; fi
  for np in $order; do n=${np%%:*} p=${np##*:}
    for w in "read 1M 16" "randread 4k 32" "randread 4k 1"; do
      echo -e "$r\t$n\t${w// /_}\t$(run $p $w)"
    done
  done
done
echo -e "rss\tA\t$(awk '/VmHWM/{print $2/1024}' /proc/$pid_A/status)\trss\tB\t$(awk '/VmHWM/{print $2/1024}' /proc/$pid_B/status)"
