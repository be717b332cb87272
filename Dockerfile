# Build stage: compile against Debian's -dev packages.
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config \
      libmicrohttpd-dev libcurl4-openssl-dev libcjson-dev libsqlite3-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY shared shared
COPY server server
RUN make build/replicate-proxy

# Runtime stage: the binary, its shared libraries, CA certificates; non-root.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmicrohttpd12 libcurl4 libcjson1 \
      libsqlite3-0 libssl3 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin proxy \
 && mkdir /data && chown 10001 /data
COPY --from=build /src/build/replicate-proxy /usr/local/bin/replicate-proxy
COPY proxy.conf /etc/replicate-proxy/proxy.conf
USER 10001
# Listen on all interfaces inside the container; one worker per core.
# Keys and the spend ledger live on a volume. A server-side token on this
# public address needs REPLICATE_PROXY_MASTER_KEY (gateway mode).
ENV REPLICATE_PROXY_LISTEN=0.0.0.0:8080 \
    REPLICATE_PROXY_WORKERS=0 \
    REPLICATE_PROXY_DATABASE=/data/replicate-proxy.db
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/replicate-proxy", "--config", "/etc/replicate-proxy/proxy.conf"]
