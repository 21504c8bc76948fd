#!/usr/bin/env bash
# nbdcopy through two builds with PSK TLS on both sides, interleaved: MiB/s and CPU s per GiB
set -euo pipefail
A=${1:?}; B=${2:?}; rounds=${3:-3}; size=${4:-256M}
w=$(mktemp -d /dev/shm/pskthr.XXXXXX); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$w"; }
trap cleanup EXIT
printf 'alice:%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" > $w/keys.psk; chmod 600 $w/keys.psk
up=$((20000 + RANDOM % 10000))
nbdkit -f -i 127.0.0.1 -p $up --tls=require --tls-psk=$w/keys.psk memory 1G 2>$w/nbdkit.err & pids+=($!)
sleep 1
declare -A port jp
i=0
for n in A B; do d=${!n}; i=$((i+1)); port[$n]=$((up + i))
  cp -r $d $w/$n
  $w/$n/bin/flexnbd-proxy -l 127.0.0.1 -p ${port[$n]} -C 127.0.0.1 -P $up --tls require --tls-psk $w/keys.psk --conn-tls require --conn-tls-psk $w/keys.psk > $w/$n.log 2>&1 & pids+=($!)
  pp=$!
  for k in $(seq 1 50); do grep -q listening $w/$n.log && break; sleep 0.2; done
  jp[$n]=$(pgrep -P $pp java || echo $pp)
done
head -c $size /dev/urandom > $w/src.img
uri() { echo "nbds://alice@127.0.0.1:${port[$1]}/?tls-psk-file=$w/keys.psk"; }
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
for n in A B; do for k in 1 2; do nbdcopy $w/src.img "$(uri $n)"; nbdcopy "$(uri $n)" null:; done; done
bytes=$(stat -c %s $w/src.img)
for r in $(seq 1 $rounds); do
  order="A B"; [ $((r % 2)) = 0 ] && order="B A"
  for n in $order; do for dir in write read; do
    c0=$(cpu ${jp[$n]}); t0=$(date +%s.%N)
    if [ $dir = write ]; then nbdcopy $w/src.img "$(uri $n)"; else nbdcopy "$(uri $n)" null:; fi
    t1=$(date +%s.%N); c1=$(cpu ${jp[$n]})
    echo -e "$r\t$n\t$dir\t$(echo "$bytes/1048576/($t1-$t0)" | bc -l | xargs printf %.0f)\t$(echo "($c1-$c0)/100*1073741824/$bytes" | bc -l | xargs printf %.2f)"
  done; done
done | tee $w/res.tsv
python3 - $w/res.tsv <<'PY'
import sys,statistics as st,collections
d=collections.defaultdict(list)
for l in open(sys.argv[1]):
    r,n,dr,mb,c=l.split('\t'); d[(n,dr)].append((float(mb),float(c)))
for dr in ('write','read'):
    a=d[('A',dr)]; b=d[('B',dr)]
    print(dr, 'B/A MiB/s per round', [round(y[0]/x[0],3) for x,y in zip(a,b)], 'cpu/GiB', [round(y[1]/x[1],3) for x,y in zip(a,b)],
          'medians A', st.median(x[0] for x in a), st.median(x[1] for x in a), 'B', st.median(x[0] for x in b), st.median(x[1] for x in b))
PY
