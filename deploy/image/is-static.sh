#!/bin/sh
# Fails, naming what it needs, unless BINARY links nothing dynamically (a
# static executable has no program interpreter and needs no library): the
# image holds nothing else. Used by scripts/build-static and rootfs.sh.
#   is-static.sh BINARY
set -eu
[ -f "$1" ] || { echo "$1: no such file" >&2; exit 1; }
if ldd "$1" 2>&1 | grep -qv "not a dynamic executable\|statically linked"; then
    echo "$1 links dynamically; the image holds no library (scripts/build-static builds the static binary):" >&2
    ldd "$1" >&2
    exit 1
fi
