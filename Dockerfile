# Image for the recommender-operator binary.
#
#   docker build -t ghcr.io/recommender-operator/recommender-operator:0.1.0 .
#
# Build on Debian 12 (bookworm) because the runtime below is Debian 12: the binary links the
# build image's glibc dynamically and must not need a newer one than the runtime has.
ARG RUST_VERSION=1.95
FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src

# Dependencies first, in their own layer: it is rebuilt only when a manifest or Cargo.lock
# changes, not on every source edit. Cargo must load the whole workspace, so the emulator
# member's manifest is copied too; both crates get placeholder sources (the emulator is only a
# dev-dependency and is never compiled here, so it keeps its placeholder for good).
COPY Cargo.toml Cargo.lock ./
COPY emulator/Cargo.toml emulator/
RUN mkdir -p src emulator/src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs emulator/src/lib.rs \
    && echo 'fn main() {}' > emulator/src/main.rs \
    && cargo build --release --locked -p recommender-operator \
    && rm -rf src

# The real sources. COPY keeps the files' own modification times, which can be older than the
# placeholder build; touch them so Cargo rebuilds this crate instead of reusing the placeholder.
COPY src src
RUN find src -type f -exec touch {} + \
    && cargo build --release --locked -p recommender-operator \
    && ./target/release/recommender-operator --version

# distroless/cc: glibc, libgcc and CA certificates, the runtime a dynamically linked Rust binary
# needs, and nothing else: no shell or package manager to exploit. The :nonroot tag runs as
# 65532:65532. The chart fixes no UID: USER below is numeric, so runAsNonRoot holds as it is, and
# OpenShift's restricted-v2 runs the pod under a UID of its own choosing.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="recommender-operator" \
      org.opencontainers.image.description="Kubernetes operator for Amazon Pinpoint recommender models" \
      org.opencontainers.image.source="https://github.com/recommender-operator/recommender-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /src/target/release/recommender-operator /recommender-operator
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
# 8080: /metrics; 8081: /healthz and /readyz.
EXPOSE 8080 8081
ENTRYPOINT ["/recommender-operator"]
CMD ["run"]
