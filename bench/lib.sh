# Shared by bench/run.sh: the processes it starts, and the two kinds of client run (nbdcopy, fio).
# Sourced, not run. Every process started here is recorded in $pids and killed by PID on exit.

export PATH=/usr/bin:/bin:$PATH   # /usr/bin/python3 first: another python3 may be on PATH
pids=()

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

cleanup() {
    local p
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    [ -n "${work:-}" ] && rm -rf "$work"
}

# Forget a PID once it has been stopped, so that cleanup cannot hit a recycled one.
forget_pid() {
    local p keep=()
    for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    pids=("${keep[@]}")
}

stop_pid() {
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    forget_pid "$1"
}

# Copies the distribution folder DIST to $work/NAME, so that a rebuild in the tree during the run does not change
# what is measured, and gives the copy a class-data archive of its own (an archive fits only the folder it was made
# in, as an installation's would). Prints the copy's start script.
copy_distribution() { # DIST NAME
    cp -r "$1" "$work/$2"
    if [ -x "$work/$2/lib/train-class-data.sh" ]; then "$work/$2/lib/train-class-data.sh" "$work/$2" >&2; fi
    echo "$work/$2/bin/flexnbd-proxy"
}

# Runs the paths in an order rotated by ROUND, so that no path always follows the same one.
rotated() { # ROUND PATH...
    local r=$1; shift
    local n=$# i
    local all=("$@")
    for ((i = 0; i < n; i++)); do echo "${all[$(((i + r) % n))]}"; done
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits (at most 20 s) until something accepts on 127.0.0.1:PORT; gives up at once, showing its log, if the
# process NAME that should listen there has exited.
await_port() { # PORT NAME
    local deadline=$((SECONDS + 20))
    while [ "$SECONDS" -lt "$deadline" ]; do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        if ! kill -0 "${pid_of[$2]}" 2>/dev/null; then
            tail -n 20 "$logs/$2.log" >&2
            die "$2 exited instead of listening on 127.0.0.1:$1"
        fi
        sleep 0.01
    done
    die "$2: nothing listens on 127.0.0.1:$1 after 20 s"
}

# --- the paths a client can take to the one nbdkit memory upstream -------------------------------------
# Each start_* function starts one server on a fresh port, records its PID, and sets uri[NAME]. Their
# output goes to $logs/NAME.log, kept after the run.
declare -A uri=()
declare -A pid_of=()

launch() { # NAME PORT COMMAND...: start in the background
    local name=$1 port=$2; shift 2
    "$@" >"$logs/$name.log" 2>&1 &
    pids+=($!); pid_of[$name]=$!
    uri[$name]="nbd://127.0.0.1:$port"
}

start_upstream() { # NAME [--filter=F ...] [filter key=value ...]: the memory plugin, 1 GiB, every NBD feature
    local name=$1 port opts=() params=() a; shift; port=$(free_port)
    for a in "$@"; do if [[ $a == --* ]]; then opts+=("$a"); else params+=("$a"); fi; done
    # nbdkit reads the first word that is not an option as the plugin: filter parameters go after it.
    launch "$name" "$port" nbdkit -f -i 127.0.0.1 -p "$port" "${opts[@]}" memory 1G "${params[@]}"
    await_port "$port" "$name"; upstream_port[$name]=$port
}
declare -A upstream_port=()

start_relay() { # NAME UPSTREAM_PORT: a blind byte pipe; -b 256 KiB as a fair buffer size
    local port; port=$(free_port)
    launch "$1" "$port" socat -b 262144 "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$2"
    await_port "$port" "$1"
}

start_qemu_nbd() { # NAME UPSTREAM_PORT
    # -t: stay up after the last client leaves; -e 8: several clients at once (it then offers multi-conn,
    # so nbdcopy uses 4 connections, as it does direct). --cache=none: no page cache between (qemu's nbd
    # block driver has none anyway; this keeps it from pretending).
    local port; port=$(free_port)
    launch "$1" "$port" qemu-nbd -f raw -t -e 8 -b 127.0.0.1 -p "$port" --cache=none "nbd://127.0.0.1:$2"
    await_port "$port" "$1"
}

start_nbdkit_nbd() { # NAME UPSTREAM_PORT [nbdkit filter args...]: nbdkit's nbd plugin, one upstream connection per client
    local name=$1 up=$2 port; shift 2; port=$(free_port)
    launch "$name" "$port" nbdkit -f -i 127.0.0.1 -p "$port" "$@" nbd hostname=127.0.0.1 port="$up"
    await_port "$port" "$name"
}

start_proxy() { # NAME UPSTREAM_PORT [proxy flags...]
    local name=$1 up=$2 port; shift 2; port=$(free_port)
    launch "$name" "$port" "$proxy_bin" -l 127.0.0.1 -p "$port" -C 127.0.0.1 -P "$up" "$@"
    await_port "$port" "$name"
}

# --- TLS on both sides: certificates in the layout of tools/make-certs.sh -------------------------------
# The upstream is start_upstream NAME --tls=require --tls-certificates=DIR. These set uri[NAME] to nbds://
# without the folder: fio's nbd engine cannot take tls-certificates= in a URI (libnbd refuses a local file in a
# URI unless the program allows it, and fio does not), so a client that verifies adds ?tls-certificates=DIR.

start_nbdkit_nbd_tls() { # NAME UPSTREAM_PORT CERTS: nbdkit's nbd plugin, TLS to its clients and to its upstream
    # The plugin refuses tls-certificates= inside uri= (the same libnbd rule): it is a parameter of its own.
    local name=$1 up=$2 certs=$3 port; port=$(free_port)
    launch "$name" "$port" nbdkit -f -i 127.0.0.1 -p "$port" --tls=require --tls-certificates="$certs" \
        nbd uri="nbds://127.0.0.1:$up" tls-certificates="$certs"
    await_port "$port" "$name"; uri[$name]="nbds://127.0.0.1:$port"
}

start_proxy_tls() { # NAME UPSTREAM_PORT CERTS [proxy flags...]: the upstream as an nbds:// URI (then no -P)
    local name=$1 up=$2 certs=$3 port; shift 3; port=$(free_port)
    launch "$name" "$port" "$proxy_bin" -l 127.0.0.1 -p "$port" -C "nbds://127.0.0.1:$up?tls-certificates=$certs" \
        --tls require --tls-certificates "$certs" "$@"
    await_port "$port" "$name"; uri[$name]="nbds://127.0.0.1:$port"
}

# --- measurements --------------------------------------------------------------------------------------
# Both print one tab-separated line of numbers; the caller labels it.

# nbdcopy SRC DST -> MiB/s, BYTES being what was copied. nbdcopy uses 4 connections when the server offers
# multi-conn (all paths here do), unless an OPTION such as -C 1 says otherwise.
nbdcopy_rate() { # BYTES SRC DST [nbdcopy options...]
    local t0 t1
    t0=$EPOCHREALTIME
    nbdcopy "${@:4}" "$2" "$3" || die "nbdcopy $2 $3 failed"
    t1=$EPOCHREALTIME
    python3 -c "import sys; print('%.1f' % ($1 / 1048576 / ($t1 - $t0)))"
}

# fio through its nbd engine -> MiB/s, IOPS, mean completion latency in µs.
# The nbd engine prints a line of its own on stdout: the JSON goes to a file.
fio_run() { # URI RW BS DEPTH [more fio args...]
    local u=$1 rw=$2 bs=$3 depth=$4; shift 4
    fio --name=b --ioengine=nbd --uri="$u" --rw="$rw" --bs="$bs" --iodepth="$depth" --size="$size" \
        --time_based --runtime="$runtime" --ramp_time="$ramp" "$@" \
        --output-format=json --output="$work/fio.json" >"$work/fio.out" 2>&1 \
        || { cat "$work/fio.out" >&2; die "fio $rw $bs QD$depth on $u failed"; }
    python3 - "$work/fio.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"]
# Sum over jobs (numjobs > 1); the latency is the first job's mean.
side = "read" if j[0]["read"]["io_bytes"] else "write"
bw = sum(x[side]["bw_bytes"] for x in j) / 1048576
iops = sum(x[side]["iops"] for x in j)
print("%.1f\t%.0f\t%.1f" % (bw, iops, j[0][side]["clat_ns"]["mean"] / 1000))
PY
}

# CPU seconds the process (all its threads) and its reaped children have used: utime + stime + cutime + cstime
# from /proc/PID/stat (socat's work is done by a child per connection).
cpu_of() {
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15 + $16 + $17) / hz }' "/proc/$1/stat"
}

# Resident memory of a process, in MiB: "VmRSS VmHWM".
rss_of() {
    awk '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {printf "%.1f\t%.1f\n", r/1024, h/1024}' "/proc/$1/status"
}

# Samples a process's VmRSS into FILE (seconds since start, MiB) every INTERVAL until it exits or for at
# most LIMIT seconds. Run in the background; its own PID goes into $pids.
sample_rss() { # PID FILE INTERVAL LIMIT
    # awk, not python: a sampler must not take the CPU the benchmark is measuring.
    local t0=$EPOCHREALTIME end=$((SECONDS + $4))
    while [ "$SECONDS" -lt "$end" ] && [ -r "/proc/$1/status" ]; do
        awk -v t="$EPOCHREALTIME" -v t0="$t0" '/^VmRSS:/ {printf "%.2f\t%.1f\n", t - t0, $2 / 1024}' \
            "/proc/$1/status" >>"$2" 2>/dev/null || break
        sleep "$3"
    done
}
