#!/usr/bin/env bash
# Makes the debian:bookworm-slim base image locally when podman lacks it:
# no image registry is reachable here, the Debian mirror is. debootstrap
# --variant=minbase, trimmed like the official slim image, then imported.
set -euo pipefail
IMAGE=${BASE_IMAGE:-docker.io/library/debian:bookworm-slim}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if podman image exists "$IMAGE"; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "image-test: making $IMAGE with debootstrap from $MIRROR"
debootstrap --variant=minbase bookworm "$work/root" "$MIRROR" >"$work/log" 2>&1 || {
  tail -20 "$work/log"
  exit 1
}
root=$work/root
# The official slim image's trims: no docs (copyright files stay), man pages,
# translations or apt lists; dpkg skips them in later installs too.
cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<CFG
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log
cat >"$root/etc/apt/sources.list" <<LIST
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
LIST
tar -C "$root" --numeric-owner -c . | podman import --change 'CMD ["bash"]' - "$IMAGE" >/dev/null
echo "image-test: $IMAGE ready"
