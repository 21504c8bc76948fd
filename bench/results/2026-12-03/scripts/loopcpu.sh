#!/usr/bin/env bash
# var4k.sh with the event loop thread's CPU per request instead of the process's.
CPU=loop exec "$(dirname "$0")/var4k.sh" "$@"
