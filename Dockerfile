# replicate-proxy image: build with `podman build --format docker .` (the
# docker format keeps the HEALTHCHECK) or `docker build .`.
#   --build-arg VERSION=1.2.3  sets `replicate-proxy --version` and the label.
# Configuration: /etc/replicate-proxy/proxy.conf (deploy/container.conf);
# mount another file over it or set REPLICATE_PROXY_<KEY> variables.

# ---- build: the Makefile's own dependency list and build, then the runtime
# packages derived from what the binary links (so the image follows the
# Makefile when its libraries change).
FROM debian:bookworm-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends make >/dev/null
WORKDIR /src
COPY Makefile ./
RUN make deps && rm -rf /var/lib/apt/lists/*
COPY shared shared
COPY server server
# Declared late: a build argument changes the cache key of every RUN after it.
ARG VERSION=dev
RUN make -j"$(nproc)" build/replicate-proxy VERSION="$VERSION" \
 && strip --strip-unneeded build/replicate-proxy \
 && ./build/replicate-proxy --version
# Each shared library the binary loads -> the package that ships it.
RUN set -e; for lib in $(ldd build/replicate-proxy | awk '$2 == "=>" && $3 ~ /^\// {print $3}'); do \
      dpkg -S "*/$(basename "$lib")" | cut -d: -f1 ; \
    done | sort -u | grep -v -- '-dev$' > runtime-debs.txt \
 && echo "runtime packages: $(tr '\n' ' ' < runtime-debs.txt)"

# ---- runtime: those packages, CA certificates, the binary; no compiler, no
# curl. User `replicate-proxy` (uid/gid 10001): Debian already has a `proxy`.
FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
COPY --from=build /src/runtime-debs.txt /tmp/runtime-debs.txt
RUN apt-get update -qq \
 && xargs -a /tmp/runtime-debs.txt apt-get install -y -qq --no-install-recommends ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/runtime-debs.txt \
 && groupadd --gid 10001 replicate-proxy \
 && useradd --no-log-init --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin replicate-proxy \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/replicate-proxy
COPY --from=build /src/build/replicate-proxy /usr/local/bin/replicate-proxy
COPY deploy/container.conf /etc/replicate-proxy/proxy.conf
ARG VERSION=dev
LABEL org.opencontainers.image.title="replicate-proxy" \
      org.opencontainers.image.description="OpenAI-compatible API for DeepSeek V3.1 on Replicate" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"
# The gateway's database; the root filesystem can then be read-only.
VOLUME /var/lib/replicate-proxy
USER 10001:10001
EXPOSE 8080
# Probes the address `listen` names (file or env), so a changed port stays healthy.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/replicate-proxy", "--config", "/etc/replicate-proxy/proxy.conf", "--healthcheck"]
# drain_delay 1s + shutdown_grace 5s + cancels <= 3s fit the default 10 s stop timeout.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/replicate-proxy", "--config", "/etc/replicate-proxy/proxy.conf"]
