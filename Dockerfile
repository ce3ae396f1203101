# syntax=docker/dockerfile:1
# OPM's container image: the `opm` binary on a distroless base, running as a non-root user, with
# SQLite's data in the /data volume (or PostgreSQL through OPM_DATABASE_URL; see docs/deploy.md).
#
#   docker build -t opm:0.1.0 .
#   docker run -p 8321:8321 -v opm-data:/data opm:0.1.0
#
# Checked in CI by scripts/deploy-check.sh (hadolint plus tests/deploy/test_dockerfile.py); no image
# is built there (no container engine on the CI machine).

# Build stage: the toolchain the project is tested with (rust-version in Cargo.toml is the floor).
FROM docker.io/library/rust:1.95.0-slim-bookworm AS builder
WORKDIR /src
COPY . .
# The registry and target caches stay in BuildKit's cache between builds, so the binary is copied
# out in the same step. SQLite is compiled in (sqlx's bundled libsqlite3); TLS is rustls (no OpenSSL).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p opm-cli \
    && install -D -m 0755 target/release/opm /out/usr/local/bin/opm \
    && install -d -m 0750 /out/data

# Runtime stage: glibc, libgcc, CA certificates and nothing else (no shell, no package manager).
# 65532 is distroless's `nonroot` user; numeric, so Kubernetes can check runAsNonRoot.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
LABEL org.opencontainers.image.title="opm" \
      org.opencontainers.image.description="Open Prompt Manager: prompt registry and LLM gateway" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/usr/local/bin/opm /usr/local/bin/opm
COPY --from=builder --chown=65532:65532 /out/data /data
ENV OPM_ADDR=0.0.0.0:8321 \
    OPM_DATA_DIR=/data \
    OPM_LOG_FORMAT=json
USER 65532:65532
VOLUME ["/data"]
EXPOSE 8321
# No curl in the image: the binary checks itself (`opm healthcheck` exits 1 unless /healthz answers).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/opm", "healthcheck", "--url", "http://127.0.0.1:8321", "--timeout", "2"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/opm"]
CMD ["serve"]
