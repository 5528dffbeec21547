# syntax=docker/dockerfile:1
# Haul service image: a release build of the `haul` binary on a slim Debian,
# with config/ (defaults, demo config) in /etc/haul.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
# sqlx query macros must not try to reach a database at build time.
ENV SQLX_OFFLINE=true \
    CARGO_TARGET_DIR=/src/target
COPY . .
# Cache mounts keep the crate registry and incremental target dir between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin haul \
 && install -D -m 0755 target/release/haul /out/haul

FROM debian:bookworm-slim
# ca-certificates: TLS to real AWS endpoints (rustls reads the system roots).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=builder /out/haul /usr/local/bin/haul
COPY config/ /etc/haul/
RUN useradd --system --no-create-home --uid 10001 haul
USER haul
EXPOSE 8080
CMD ["haul", "all", "--config", "/etc/haul/demo.toml"]
