#!/bin/sh
# make-certs.sh DIR [CLIENT-NAME]: a throw-away certificate authority and the certificates flexnbd-proxy, nbdkit,
# libnbd and qemu read, in the layout they all share:
#   ca-cert.pem                        the authority that signed the others
#   server-cert.pem, server-key.pem    for a server on localhost / 127.0.0.1 / ::1
#   client-cert.pem, client-key.pem    for a client named CLIENT-NAME (default: client)
# The authority's own key is deleted once they are signed.
# For tests and trials only: a real deployment has its own authority. Needs openssl. Keys are made mode 600.
set -eu
dir=${1:?usage: make-certs.sh DIR [CLIENT-NAME]}
client=${2:-client}
mkdir -p "$dir"
cd "$dir"
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=flexnbd test CA" \
    -keyout ca-key.pem -out ca-cert.pem 2>/dev/null
sign() { # name subject extensions
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1-key.pem" -out "$1.csr" 2>/dev/null
    printf '%s\n' "$3" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial -days 30 \
        -extfile "$1.ext" -out "$1-cert.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}
sign server "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
extendedKeyUsage=serverAuth"
sign client "/CN=$client" "extendedKeyUsage=clientAuth"
rm -f ca-cert.srl ca-key.pem # nothing more is signed: the authority's key goes
chmod 644 ca-cert.pem server-cert.pem client-cert.pem
