#!/bin/sh
# Makes lib/flexnbd.jsa in a built tree: a class-data archive (AppCDS) of the classes the appliance loads as
# it starts, recorded by starting it once (--demo, on a UNIX socket, so that no port is taken) and stopping
# it. The start script uses the archive when it is there; start-up to listening went from about 1.45 s to
# 1.17 s on the 2-core build machine (docs/BENCHMARKS.md). The archive fits only the JDK that made it: under
# another, or with the tree moved, the JVM ignores it (the start script keeps the JVM quiet about that).
#
#   lib/train-class-data.sh [TREE [ARCHIVE]]
#
# TREE: the installation, by default the folder above lib/; ARCHIVE: the archive to make, by default
# TREE/lib/flexnbd.jsa (the Debian package makes /var/cache/flexnbd-proxy/flexnbd.jsa, which its
# /usr/bin/flexnbd-proxy names in FLEXNBD_CLASS_DATA).
#
# The build runs it on the tree it assembles. Run it again after installing from the tarball, after moving
# the tree, or under another JDK: the archive records the JDK and the class path it was made with.
tree=${1:-$(dirname "$0")/..}
archive=${2:-$tree/lib/flexnbd.jsa}
work=$(mktemp -d "${TMPDIR:-/tmp}/flexnbd-cds.XXXXXX") || exit 0
rm -f "$archive"
FLEXNBD_CLASS_DATA=$archive JAVA_OPTS="-XX:ArchiveClassesAtExit=$archive -Xlog:cds=off -Xlog:cds+dynamic=off" \
    "$tree/bin/flexnbd-proxy" --demo -l "$work/train.sock" >"$work/log" 2>&1 &
pid=$!
i=0
while [ ! -S "$work/train.sock" ] && [ $i -lt 300 ] && kill -0 "$pid" 2>/dev/null; do
    sleep 0.1
    i=$((i + 1))
done
kill -TERM "$pid" 2>/dev/null
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
fi
wait "$pid" 2>/dev/null
if [ -s "$archive" ]; then
    echo "train-class-data: $archive ($(wc -c <"$archive") bytes)"
else
    rm -f "$archive"
    echo "train-class-data: no class-data archive made (the appliance starts without one); log:" >&2
    tail -n 5 "$work/log" >&2
fi
rm -rf "$work"
exit 0
