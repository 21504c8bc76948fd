#!/usr/bin/env bash
# The write journal's cost: the same fio write workloads, each with a FLUSH every 256 writes, through two copies
# of one distribution: "journal" (its config as built, journalBytes=32 MiB) and "nojournal" (journalBytes=0 in
# its config/org.flexnbd.upstream.cfg), and, for reference, "direct" (fio straight to nbdkit). Each path has an
# nbdkit memory upstream of its own (1 GiB, advertising FLUSH), filled once before anything is measured, so that
# all start equal. Every path runs each workload once per round, in an order that rotates; the report gives
# medians of MiB/s and IOPS, and journal / nojournal per workload, as a ratio of medians and as the median of the
# ratios within each round (the goal: the journal costs at most 5% by both).
#
#   bench/journal.sh [--quick] [--rounds N] [--seconds N] [--no-direct] [--out DIR]
#   bench/journal.sh --report TSV...
#
#   --quick       1 round, 2 s runs: a smoke test of the harness; results go to a temporary folder (printed),
#                 never over the documented ones
#   --rounds N    rounds (default 3)
#   --seconds N   measured seconds of each fio run, after a 1 s ramp (default 10)
#   --no-direct   leave out the reference path straight to nbdkit
#   --out DIR     where journal.tsv, journal.md and the servers' logs (logs/journal/) go (default: bench/results)
#   --report TSV...  measure nothing: the report of the journal.tsv of earlier runs, every round of every run
#                 taken together (a single run's interval is wide on a shared machine), to standard output
#
# Workloads (fio's nbd engine, one connection, time-based over the whole 1 GiB):
#   randwrite   4 KiB random writes, iodepth 32, --fsync=256
#   seqwrite    1 MiB sequential writes, iodepth 16, --fsync=256
# fio's nbd engine sends each fsync as NBD_CMD_FLUSH (nbd_aio_flush). With more than one request in flight it
# sends a burst of them at every 256th write, not one: fio counts a sync as done only once it completes, and
# until then fills each freed slot with another (nbdkit's stats filter, 2560 random 4K writes with --fsync=256:
# 9 FLUSH at iodepth 1, 221 at iodepth 32). The same for every path; journal.tsv keeps fio's count of them and
# the report gives writes per FLUSH.
#
# journal.tsv, one line per fio run: round, path, workload, MiB/s, write IOPS, writes, flushes.
#
# Build first: mvn -B -q package -DskipTests (FLEXNBD_DIST names another distribution folder). Needs nbdkit,
# fio (with its nbd engine) and python3. Takes about 5 minutes with the defaults (3 paths, 2 workloads,
# 3 rounds of 11 s, and the filling and warming up). Everything binds to 127.0.0.1; every process started here
# is stopped by PID on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

proxy_bin=${FLEXNBD_DIST:-$here/../distribution/target/flexnbd-proxy}/bin/flexnbd-proxy
rounds=3 runtime=10 ramp=1 warm=2 direct=1 out="" quick=0 report_only=()
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1; rounds=1; runtime=2; ramp=0.5; warm=1 ;;
        --rounds) rounds=${2:?}; shift ;;
        --seconds) runtime=${2:?}; shift ;;
        --no-direct) direct=0 ;;
        --out) out=${2:?}; shift ;;
        --report) shift; [ $# -gt 0 ] || die "--report wants journal.tsv files"; report_only=("$@"); break ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a whole number above 0, not $rounds"
[[ $runtime =~ ^[1-9][0-9]*$ ]] || die "--seconds wants a whole number above 0, not $runtime"
if [ -z "$out" ]; then
    if [ "$quick" = 1 ]; then out=${TMPDIR:-/tmp}/flexnbd-bench-journal-quick; else out=$here/results; fi
fi

# The report of one run or several: INFO (markdown lines on how they ran), then every journal.tsv to take together.
report() { # INFO TSV...
    python3 - "$@" <<'PY'
import random, statistics, sys
# A round is named by its file and its number in it, so that the rounds of several runs stay apart.
rows = [[f"{k}:{r[0]}"] + r[1:] for k, tsv in enumerate(sys.argv[2:])
        for r in (l.rstrip("\n").split("\t") for l in open(tsv) if l.strip())]
LABEL = {"randwrite": "4K random write QD32, --fsync=256", "seqwrite": "1M sequential write QD16, --fsync=256"}
PATHS = ["journal", "nojournal", "direct"]
workloads = list(dict.fromkeys(r[2] for r in rows))
paths = [p for p in PATHS if any(r[1] == p for r in rows)]
# (workload, path) -> round -> (MiB/s, IOPS, writes, flushes)
runs = {}
for rnd, p, w, bw, iops, writes, flushes in rows:
    runs.setdefault((w, p), {})[rnd] = (float(bw), float(iops), int(writes), int(flushes))

def med(w, p, i):
    return statistics.median(v[i] for v in runs[(w, p)].values())

def fmt(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"

print("## The write journal's cost (bench/journal.sh)\n")
print(open(sys.argv[1]).read())
print("Medians over rounds; min–max of MiB/s beside them. Writes per FLUSH: fio's counts over all rounds (fio sends a")
print("burst of FLUSH at every 256th write when more than one request is in flight).\n")
print("| workload | path | MiB/s | IOPS | MiB/s min–max | writes per FLUSH |")
print("|---|---|---|---|---|---|")
for w in workloads:
    for p in paths:
        if (w, p) not in runs:
            continue
        v = runs[(w, p)].values()
        writes, flushes = sum(x[2] for x in v), sum(x[3] for x in v)
        per = f"{writes / flushes:.1f}" if flushes else "no FLUSH"
        print(f"| {LABEL.get(w, w)} | {p} | {fmt(med(w, p, 0))} | {fmt(med(w, p, 1))} | "
              f"{fmt(min(x[0] for x in v))}–{fmt(max(x[0] for x in v))} | {per} |")
print()
print("journal / nojournal: the ratio of the medians, and the same ratio within each round (its median, then min–max:")
print("on a shared machine whole rounds run slow for both paths, and the paired ratio sees through that); the")
print("journal's cost is 1 − the lower of the two medians, the goal at most 5%. Beside the per-round median, a 90%")
print("interval for it (a bootstrap over the rounds): when it spans 0.95, this run alone cannot tell whether the")
print("cost is within 5%.\n")
head = ["workload", "journal / nojournal MiB/s", "IOPS", "per round: median [90% interval] (min–max)", "cost",
        "within 5%"]
if "direct" in paths:
    head += ["journal / direct", "nojournal / direct"]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for w in workloads:
    if (w, "journal") not in runs or (w, "nojournal") not in runs:
        continue
    ratio = med(w, "journal", 0) / med(w, "nojournal", 0)
    j, n = runs[(w, "journal")], runs[(w, "nojournal")]
    per_round = [j[r][0] / n[r][0] for r in j if r in n]
    paired = statistics.median(per_round)
    worse = min(ratio, paired)
    rng = random.Random(1)  # the same rounds give the same interval
    boots = sorted(statistics.median(rng.choices(per_round, k=len(per_round))) for _ in range(2000))
    low, high = boots[len(boots) // 20], boots[len(boots) - 1 - len(boots) // 20]
    cells = [LABEL.get(w, w), f"{ratio:.3f}", f"{med(w, 'journal', 1) / med(w, 'nojournal', 1):.3f}",
             f"{paired:.3f} [{low:.3f}–{high:.3f}] ({min(per_round):.3f}–{max(per_round):.3f})",
             f"{(1 - worse) * 100:.1f}%",
             "yes" if worse >= 0.95 else "**no**"]
    if "direct" in paths and (w, "direct") in runs:
        cells += [f"{med(w, 'journal', 0) / med(w, 'direct', 0):.3f}", f"{med(w, 'nojournal', 0) / med(w, 'direct', 0):.3f}"]
    print("| " + " | ".join(cells) + " |")
PY
}

if [ ${#report_only[@]} -gt 0 ]; then
    command -v python3 >/dev/null || die "python3 is not installed"
    for t in "${report_only[@]}"; do [ -r "$t" ] || die "cannot read $t"; done
    info=$(mktemp)
    printf -- '- every round of %d runs taken together: %s\n' "${#report_only[@]}" "${report_only[*]}" >"$info"
    report "$info" "${report_only[@]}"
    rm -f "$info"
    exit 0
fi

for tool in nbdkit fio python3 awk; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
fio --enghelp=nbd >/dev/null 2>&1 || die "this fio has no nbd engine (fio --enghelp=nbd)"
[ -x "$proxy_bin" ] || die "build first: mvn -B -q package -DskipTests ($proxy_bin is missing)"
# Each copy must read its own config folder.
unset FLEXNBD_CONFIG_DIR

work=$(mktemp -d /dev/shm/flexnbd-journal.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
logs=$out/logs/journal
mkdir -p "$out" "$logs"

# --- two copies of one distribution, differing in journalBytes only -------------------------------------
dist=$(cd "$(dirname "$proxy_bin")/.." && pwd)
proxy_built="tree at $(git -C "$dist" log -1 --format='%h %s' 2>/dev/null || echo '(no git)'), distribution built $(date -u -r "$dist/lib" +%Y-%m-%dT%H:%MZ)"
for p in journal nojournal; do
    copy_distribution "$dist" "$p" >/dev/null
done
cfg=config/org.flexnbd.upstream.cfg
journal_bytes=$(sed -n 's/^journalBytes=//p' "$work/journal/$cfg")
[[ ${journal_bytes:-0} =~ ^[1-9][0-9]*$ ]] || die "$dist/$cfg has journalBytes=${journal_bytes:-(unset)}: no journal to measure"
sed -i 's/^journalBytes=.*/journalBytes=0/' "$work/nojournal/$cfg"
# Nothing else may differ: exactly the one line.
[ "$(diff "$work/journal/$cfg" "$work/nojournal/$cfg" | grep -c '^[<>]')" = 2 ] \
    || die "the nojournal copy's $cfg differs in more than journalBytes"

# --- one upstream per path --------------------------------------------------------------------------------
paths=(journal nojournal)
[ "$direct" = 1 ] && paths+=(direct)
for p in "${paths[@]}"; do start_upstream "up-$p"; done
for p in journal nojournal; do
    proxy_bin=$work/$p/bin/flexnbd-proxy start_proxy "$p" "${upstream_port[up-$p]}"
done
[ "$direct" = 1 ] && uri[direct]="nbd://127.0.0.1:${upstream_port[up-direct]}"
sleep 1
for p in journal nojournal; do
    # A config value refused at start is an E line, and the proxy runs on without it.
    if grep -q '^E' "$logs/$p.log"; then cat "$logs/$p.log" >&2; die "proxy $p refused part of its configuration"; fi
done

# --- measurement --------------------------------------------------------------------------------------------
# Runs fio in this shell (a failure stops the script) and sets result to "MiB/s IOPS writes flushes", tab-separated.
fio_write() { # URI RW BS DEPTH SECONDS RAMP
    fio --name=journal --ioengine=nbd --uri="$1" --rw="$2" --bs="$3" --iodepth="$4" --size=1G --fsync=256 \
        --time_based --runtime="$5" --ramp_time="$6" \
        --output-format=json --output="$work/fio.json" >"$work/fio.out" 2>&1 \
        || { cat "$work/fio.out" >&2; die "fio $2 $3 QD$4 on $1 failed"; }
    result=$(python3 - "$work/fio.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
w = j["write"]
print("%.1f\t%.0f\t%d\t%d" % (w["bw_bytes"] / 1048576, w["iops"], w["total_ios"], j["sync"]["total_ios"]))
PY
)
}

workload() { # NAME URI SECONDS RAMP: sets result
    case $1 in
        randwrite) fio_write "$2" randwrite 4k 32 "$3" "$4" ;;
        seqwrite) fio_write "$2" write 1M 16 "$3" "$4" ;;
        *) die "no workload $1" ;;
    esac
}
workloads=(randwrite seqwrite)

note "filling each upstream once: nbdkit's memory plugin is several times slower on the first write of a page"
for p in "${paths[@]}"; do
    fio --name=fill --ioengine=nbd --uri="nbd://127.0.0.1:${upstream_port[up-$p]}" --rw=write --bs=1M \
        --iodepth=16 --size=1G --output="$work/fill.out" >/dev/null 2>&1 \
        || { cat "$work/fill.out" >&2; die "filling up-$p failed"; }
done
note "warming up: each workload through each path for $warm s (the proxies' JIT)"
for p in "${paths[@]}"; do
    for w in "${workloads[@]}"; do workload "$w" "${uri[$p]}" "$warm" 0; done
done

started=$(date -u +%Y-%m-%dT%H:%MZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)   # others' work on a shared machine shows here
f=$out/journal.tsv
: >"$f"
for r in $(seq 1 "$rounds"); do
    for w in "${workloads[@]}"; do
        for p in $(rotated "$r" "${paths[@]}"); do
            workload "$w" "${uri[$p]}" "$runtime" "$ramp"
            printf '%s\t%s\t%s\t%s\n' "$r" "$p" "$w" "$result" >>"$f"
        done
    done
    note "round $r of $rounds done"
done
for p in journal nojournal; do
    kill -0 "${pid_of[$p]}" 2>/dev/null || die "proxy $p exited during the run (see $logs/$p.log)"
done

info=$work/info.txt
{
    [ "$quick" = 1 ] && echo "**--quick: a smoke test of the harness (1 round of 2 s runs), not a measurement.**" && echo
    echo "- started $started, finished $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "- load average (1, 5, 15 min) at start $load_start, at end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- rounds $rounds, fio runs of $runtime s after a $ramp s ramp; journal: journalBytes=$journal_bytes, nojournal: journalBytes=0"
    echo "- machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
        "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
    echo "- $(nbdkit --version), $(fio --version)"
    echo "- proxy: $proxy_built; $(java -version 2>&1 | head -1)"
} >"$info"

report "$info" "$f" | tee "$out/journal.md"
note "results in $out (journal.tsv, journal.md; servers' logs in $logs)"
