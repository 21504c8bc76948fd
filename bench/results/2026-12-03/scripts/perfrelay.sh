#!/usr/bin/env bash
set -euo pipefail
here=/work/main/bench
. "$here/lib.sh"
work=$(mktemp -d /dev/shm/flexnbd-pr.XXXXXX); trap cleanup EXIT
logs=$work/logs; mkdir -p $logs
head -c 1G /dev/urandom > $work/src.img
start_upstream up; start_relay relay "${upstream_port[up]}"
nbdcopy $work/src.img ${uri[relay]} -C 1 -R 64
nbdcopy $work/src.img ${uri[relay]} -C 1 -R 64 &
cp=$!; sleep 0.3
child=$(pgrep -P ${pid_of[relay]} | head -1)
perf record -e cpu-clock -F 5000 -g -p $child -o /tmp/exp/relay.perf -- sleep 1 >/dev/null 2>&1 || true
wait $cp
perf report -i /tmp/exp/relay.perf --no-children --sort symbol --stdio 2>/dev/null | grep -v "^#" | grep "%" | head -12
