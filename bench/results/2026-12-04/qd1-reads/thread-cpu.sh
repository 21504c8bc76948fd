#!/bin/bash
# per-thread CPU of the proxy under fio 4K randwrite QD1 for 8 s
set -e
up=$(( 40000 + RANDOM % 1000 )); pp=$(( 42000 + RANDOM % 1000 ))
nbdkit -f -i 127.0.0.1 -p $up memory 1G & UP=$!
sleep 0.5
/tmp/dist-qd1b/bin/flexnbd-proxy -l 127.0.0.1 -p $pp -C 127.0.0.1 -P $up 2>/tmp/qd1prof.err & PX=$!
for i in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$pp) 2>/dev/null && break; sleep 0.1; done
JPID=$(pgrep -P $PX java || echo $PX)
fio --name=w --ioengine=nbd --uri=nbd://127.0.0.1:$pp --rw=randwrite --bs=4k --iodepth=1 --size=1G --time_based --runtime=3 >/dev/null 2>&1
snap() { for t in /proc/$JPID/task/*; do n=$(cat $t/comm); s=$(awk "{print \$14\"_\"\$15}" $t/stat); echo "$(basename $t) $n $s"; done; }
snap > /tmp/s0
fio --name=w --ioengine=nbd --uri=nbd://127.0.0.1:$pp --rw=randwrite --bs=4k --iodepth=1 --size=1G --time_based --runtime=8 --output-format=terse > /tmp/fio.terse 2>&1
snap > /tmp/s1
join <(sort /tmp/s0) <(sort /tmp/s1) | awk '{split($3,a,"_"); split($5,b,"_"); du=b[1]-a[1]; ds=b[2]-a[2]; if (du+ds>0) print du+ds, "user", du, "sys", ds, $2}' | sort -rn | head -8
echo "iops: $(awk -F';' '{print $49}' /tmp/fio.terse)"
kill $PX; wait $PX 2>/dev/null || true; kill $UP; wait $UP 2>/dev/null || true
