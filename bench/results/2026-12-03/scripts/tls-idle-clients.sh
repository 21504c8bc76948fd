#!/usr/bin/env bash
# N idle python-libnbd clients through the proxy with TLS on both sides (psk or x509) or none (plain), then two
# full collections: heap used, DirectByteBuffer objects, VmRSS, and with -XX:NativeMemoryTracking=summary as the
# fourth argument NMT's "Other" (direct memory). Usage: tls-idle-clients.sh DIST psk|x509|plain [N] [JAVA_OPTS]
set -euo pipefail
DIST=${1:?dist}; MODE=${2:?psk|x509|plain}; N=${3:-100}; EXTRA_OPTS=${4:-}
w=$(mktemp -d /tmp/tlsmem.XXXXXX)
up=$((20000 + RANDOM % 10000)); pp=$((up + 1))
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$w"; }
trap cleanup EXIT
case $MODE in
psk) printf 'alice:%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" > $w/keys.psk
     upt=(--tls=require --tls-psk=$w/keys.psk); prt=(--tls require --tls-psk $w/keys.psk --conn-tls require --conn-tls-psk $w/keys.psk)
     uri="nbds://alice@127.0.0.1:$pp/?tls-psk-file=$w/keys.psk" ;;
x509) d=$w/pki; mkdir -p $d
     openssl req -x509 -newkey rsa:2048 -nodes -keyout $d/ca-key.pem -out $d/ca-cert.pem -days 1 -subj /CN=ca 2>/dev/null
     openssl req -newkey rsa:2048 -nodes -keyout $d/server-key.pem -out $w/s.csr -subj /CN=127.0.0.1 2>/dev/null
     printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > $w/ext
     openssl x509 -req -in $w/s.csr -CA $d/ca-cert.pem -CAkey $d/ca-key.pem -CAcreateserial -out $d/server-cert.pem -days 1 -extfile $w/ext 2>/dev/null
     upt=(--tls=require --tls-certificates=$d); prt=(--tls require --tls-certificates $d --conn-tls require --conn-tls-certificates $d)
     uri="nbds://127.0.0.1:$pp/?tls-certificates=$d" ;;
plain) upt=(); prt=(); uri="nbd://127.0.0.1:$pp/" ;;
esac
chmod 600 $w/keys.psk $w/pki/*key.pem 2>/dev/null || true
nbdkit -f -t 1 -i 127.0.0.1 -p $up "${upt[@]}" memory 64M 2>$w/nbdkit.err & pids+=($!)
sleep 1
JAVA_OPTS="$EXTRA_OPTS" $DIST/bin/flexnbd-proxy -l 127.0.0.1 -p $pp -C 127.0.0.1 -P $up --max-clients $((N + 10)) "${prt[@]}" > $w/proxy.log 2>&1 & pids+=($!)
ppid=$!
for i in $(seq 1 50); do grep -q "listening" $w/proxy.log && break; sleep 0.2; done
jpid=$(pgrep -P $ppid java || echo $ppid)
/usr/bin/python3 - "$uri" "$N" > $w/clients.out 2>&1 <<'PY' & pids+=($!)
import nbd, sys, time
uri, n = sys.argv[1], int(sys.argv[2])
hs = []
for i in range(n):
    h = nbd.NBD(); h.set_uri_allow_local_file(True); h.connect_uri(uri); hs.append(h)
print("connected", len(hs), flush=True)
time.sleep(600)
PY
for i in $(seq 1 600); do grep -q connected $w/clients.out && break; grep -q -i error $w/clients.out && break; sleep 0.5; done
cat $w/clients.out | tail -3; tail -5 $w/proxy.log
jcmd $jpid GC.run >/dev/null; sleep 1; jcmd $jpid GC.run >/dev/null; sleep 1
heap=$(jcmd $jpid GC.heap_info | grep -oE "used [0-9]+K" | tr -d "usedK " | paste -sd+ | bc)K
dbb=$(jcmd $jpid GC.class_histogram | awk '$4=="java.nio.DirectByteBuffer"{print $2, $3}')
rss=$(grep VmRSS /proc/$jpid/status)
echo -e "$MODE\tN=$N\theap $heap\tDirectByteBuffer count/bytes-of-objects $dbb\t$rss"
jcmd $jpid VM.native_memory summary 2>/dev/null | grep -A2 "Other" | head -3 || true
grep -E "SEVERE|OutOfMemory|serving at most" $w/proxy.log | head -5
