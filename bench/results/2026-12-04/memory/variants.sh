#!/bin/bash
# memory section, variants alternated: default (arena 2), arena 1, fixed mmap threshold 1 MiB
cd /work/main
export PATH=/usr/bin:$PATH
for r in 1 2 3; do
  for v in default arena1 mmap1m; do
    case $v in
      default) env -u MALLOC_ARENA_MAX bench/run.sh --only memory --rounds 1 --out /tmp/memexp/$v-$r > /tmp/memexp/$v-$r.log 2>&1 ;;
      arena1) MALLOC_ARENA_MAX=1 bench/run.sh --only memory --rounds 1 --out /tmp/memexp/$v-$r > /tmp/memexp/$v-$r.log 2>&1 ;;
      mmap1m) MALLOC_MMAP_THRESHOLD_=1048576 bench/run.sh --only memory --rounds 1 --out /tmp/memexp/$v-$r > /tmp/memexp/$v-$r.log 2>&1 ;;
    esac
    echo "$r $v $(grep -o 'default: peak sampled VmRSS (every 0.25 s) [0-9]* MiB' /tmp/memexp/$v-$r.log | grep -o '[0-9]* MiB') $(grep -o 'xmx256m: peak sampled VmRSS (every 0.25 s) [0-9]* MiB' /tmp/memexp/$v-$r.log | grep -o '[0-9]* MiB')" >> /tmp/memexp/summary.txt
  done
done
echo done >> /tmp/memexp/summary.txt
