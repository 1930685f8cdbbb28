#!/bin/sh
# The image's whole root filesystem: the static binary, the CA certificates
# and a non-root user (65532), nothing else. Used by deploy/Containerfile's
# build stage and by scripts/build-image. Refuses a binary that is not static.
#   rootfs.sh BINARY CA_BUNDLE OUTDIR
set -eu
binary=$1 certs=$2 out=$3
"$(dirname "$0")/is-static.sh" "$binary"
install -D -m 0755 "$binary" "$out/usr/local/bin/scim-gateway"
install -D -m 0644 "$certs" "$out/etc/ssl/certs/ca-certificates.crt"
mkdir -p "$out/etc"
echo 'scim-gateway:x:65532:65532:scim-gateway:/nonexistent:/nonexistent' > "$out/etc/passwd"
echo 'scim-gateway:x:65532:' > "$out/etc/group"
