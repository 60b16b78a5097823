# syntax=docker/dockerfile:1
# The operator's image: a static (musl) binary on distroless "static", running as non-root.
#   docker build -t ghcr.io/vrg-operator/vrg-operator:0.1.0 .
# The crate uses rustls with ring (no OpenSSL), so the musl build needs only musl-gcc for ring's
# C and assembly parts. The result holds the binary, CA certificates and /etc/passwd: no shell.

FROM rust:1-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
# The cache mounts keep the registry and build artefacts between builds (BuildKit).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target x86_64-unknown-linux-musl --bin vrg-operator \
 && cp target/x86_64-unknown-linux-musl/release/vrg-operator /vrg-operator

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="vrg-operator" \
      org.opencontainers.image.description="Runs VolumeReplicationGroup recipes through Velero and pod-exec hooks" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /vrg-operator /vrg-operator
# distroless's "nonroot" user; the Deployment's securityContext asks for the same.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/vrg-operator"]
CMD ["run"]
