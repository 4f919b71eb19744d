#!/usr/bin/env bash
# Builds the gateway's image from the compiled binary with buildah, without any image
# registry: FROM scratch plus glibc from the distribution's libc6 package (the one library
# the binary links: libc, libm, libpthread, libdl, the loader), a passwd entry and /tmp.
#
#   deploy/image/build.sh [--arch amd64|arm64] [--tag NAME]
#
# Default: the host's architecture, tag bun-gateway:<package.json version>. Needs bun,
# buildah, apt-get and dpkg-deb (Debian or Ubuntu). For the other architecture, apt needs
# it added once: `dpkg --add-architecture arm64 && apt-get update`.
set -euo pipefail
cd "$(dirname "$0")/../.."

ARCH="$(dpkg --print-architecture)"
TAG="bun-gateway:$(bun -e 'process.stdout.write(require("./package.json").version)')"
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) ARCH="$2"; shift 2 ;;
    --tag) TAG="$2"; shift 2 ;;
    *) echo "usage: $0 [--arch amd64|arm64] [--tag NAME]" >&2; exit 2 ;;
  esac
done
case "$ARCH" in
  amd64) bun run build:x64 >/dev/null; BINARY=dist/bun-gateway-linux-x64 ;;
  arm64) bun run build:arm64 >/dev/null; BINARY=dist/bun-gateway-linux-arm64 ;;
  *) echo "unsupported architecture: $ARCH" >&2; exit 2 ;;
esac

CONTEXT="dist/image-$ARCH"
rm -rf "$CONTEXT"
mkdir -p "$CONTEXT/rootfs/usr/local/bin" "$CONTEXT/rootfs/etc" "$CONTEXT/rootfs/tmp"
(cd "$CONTEXT" && apt-get download -q "libc6:$ARCH" 2>/dev/null)
dpkg-deb -x "$CONTEXT"/libc6_*.deb "$CONTEXT/rootfs"
rm -rf "$CONTEXT/rootfs/usr/share/doc" "$CONTEXT/rootfs/usr/share/lintian"
install -m 0755 "$BINARY" "$CONTEXT/rootfs/usr/local/bin/bun-gateway"
printf 'root:x:0:0:root:/root:/sbin/nologin\ngateway:x:1000:1000:gateway:/nonexistent:/sbin/nologin\n' >"$CONTEXT/rootfs/etc/passwd"
printf 'root:x:0:\ngateway:x:1000:\n' >"$CONTEXT/rootfs/etc/group"
# Without it glibc asks DNS before /etc/hosts.
printf 'hosts: files dns\n' >"$CONTEXT/rootfs/etc/nsswitch.conf"
chmod 1777 "$CONTEXT/rootfs/tmp"
cp deploy/image/Dockerfile "$CONTEXT/Dockerfile"

# Docker format: the OCI image format has no HEALTHCHECK. The previous image of this tag is
# removed first, so rebuilds leave no untagged images behind (one in use by a container stays).
buildah rmi "$TAG" >/dev/null 2>&1 || true
buildah bud --quiet --format docker --arch "$ARCH" --tag "$TAG" "$CONTEXT"
echo "built $TAG ($ARCH)"
