#!/usr/bin/env bash
# make image-test: build the image with podman and test it, and check deploy/.
#   1. the deploy/ files offline (files.test.mjs: k8s schemas, compose, nginx, systemd)
#   2. the debian:bookworm-slim base, made with debootstrap when missing (base.sh)
#   3. podman build --format docker (keeps the HEALTHCHECK)
#   4. the image run read-only, without capabilities, non-root (image.test.mjs)
# podman settings for this kind of machine come from build/image/containers.conf
# (runc; explicit ulimits, since raising them needs CAP_SYS_RESOURCE), never
# from the system's files. Prints the time each step took.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
IMAGE=${IMAGE:-localhost/replicate-proxy:image-test}
VERSION=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo image-test)}
PROXY_BIN=${PROXY_BIN:-$root/build/replicate-proxy}
mkdir -p build/image

nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
cat >build/image/containers.conf <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF=$root/build/image/containers.conf

step_start=$(date +%s)
step() { local now; now=$(date +%s); echo "image-test: $1 took $((now - step_start)) s"; step_start=$now; }

(cd tests/image && { [ -d node_modules/kubernetes-models ] && [ node_modules/.package-lock.json -nt package-lock.json ] ||
  npm ci --no-audit --no-fund --loglevel=error; })
(cd tests/image && PROXY_BIN=$PROXY_BIN node --test files.test.mjs)
step "deploy/ checks"

bash tests/image/base.sh
step "base image"

# --network host: the build stage's apt reaches the mirror as the host does.
# The build stage gets a tag too (its layers are the cache of the next run);
# the images these tags pointed to before are removed once superseded.
old_ids=$(podman image inspect --format '{{.Id}}' "$IMAGE" "$IMAGE-build" 2>/dev/null || true)
build() { nice podman build --format docker --network host --build-arg VERSION="$VERSION" "$@" . >>build/image/build.log 2>&1; }
: >build/image/build.log
if ! build --target build -t "$IMAGE-build" || ! build -t "$IMAGE"; then
  tail -40 build/image/build.log
  echo "image-test: podman build failed (whole log: build/image/build.log)"
  exit 1
fi
new_ids=$(podman image inspect --format '{{.Id}}' "$IMAGE" "$IMAGE-build")
for id in $old_ids; do
  grep -q "$id" <<<"$new_ids" || podman rmi "$id" >/dev/null 2>&1 || true
done
echo "image-test: $IMAGE $(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'), $(grep -m1 '^runtime packages:' build/image/build.log || true)"
step "podman build"

(cd tests && IMAGE=$IMAGE IMAGE_VERSION=$VERSION node --test --test-concurrency=1 image/image.test.mjs)
step "image run tests"
