# Image for the recommender-operator binary, for linux/amd64 and linux/arm64.
#
# The release build: one multi-platform image (an OCI index with both architectures), with an SBOM
# and SLSA provenance attached as attestations. It needs BuildKit through buildx (a builder whose
# driver can build for several platforms, e.g. docker-container) and a registry to push to: the
# classic docker image store keeps neither a multi-platform image nor its attestations.
#
#   docker buildx build --platform linux/amd64,linux/arm64 --sbom=true --provenance=mode=max \
#     -t ghcr.io/recommender-operator/recommender-operator:0.1.0 --push .
#
# A local image for the machine's own architecture: `docker build -t recommender-operator:dev .`
# (BuildKit, the default builder since Docker 23, sets the platform arguments used below).
#
# The build stage runs on the builder's own platform (BUILDPLATFORM) and cross-compiles for the
# target's (TARGETARCH) with Debian's cross gcc: no emulation, so an arm64 image costs no more to
# build than an amd64 one. Only the runtime stage is per target platform: a FROM without --platform
# resolves the base image's index for TARGETPLATFORM.
#
# Build on Debian 12 (bookworm) because the runtime below is Debian 12: the binary links glibc
# dynamically and must not need a newer one than the runtime has. Debian 12's cross libc
# (libc6-dev-*-cross) is the same glibc 2.36 as its native one, so a cross-built binary is held to
# the same bound.
#
# Both base images are pinned by the digest of their multi-platform index (not of one platform's
# image), so each target platform still resolves its own image from the same pin. Bump the tag and
# the digest together, taking the digest from the registry, never by hand:
#
#   crane digest rust:1.99.0-bookworm
#   crane digest gcr.io/distroless/cc-debian12:nonroot
#   # or: docker buildx imagetools inspect IMAGE:TAG (the "Digest:" line above the manifest list)
#
# Where the pins below came from (no registry could be queried when they were written, so they
# were taken from public repositories that pin the same tags, and not re-resolved here):
# - rust:1.99.0-bookworm@sha256:114c7a44...: autumn-foundation/autumn-harvest, Dockerfile (commit
#   ba90562c, digests kept current by Dependabot); the same digest is pinned for rust:1-bookworm in
#   ZrizTech/runner, Dockerfile (commit 228ac22f), which calls its pins multi-arch indexes.
# - gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79...: the same two files; and
#   NDDev-OpenNetwork/pi-setup-system, Dockerfile (commit 9ddf591b) and nemarOrg/orcid-mock,
#   Dockerfile (commit 27c60f8c), which both describe it as the OCI image index of `nonroot`
#   (amd64, arm, arm64, ppc64le, s390x).
FROM --platform=$BUILDPLATFORM rust:1.99.0-bookworm@sha256:114c7a4425406451c2866b6aafe69fe29b1b298832db1277d411ac73c82d04d6 AS build

# With `--sbom=true`, BuildKit scans only the final image unless a stage opts in: this stage's scan
# adds what built the binary (the Rust toolchain, the C compilers and the Debian packages of the
# build image) to the SBOM. It does not list the crates compiled into the binary: BuildKit's
# default scanner catalogs an image's packages and does not read Cargo.lock.
ARG BUILDKIT_SBOM_SCAN_STAGE=true

# Set by BuildKit for every build: the builder's architecture and the one being built for.
ARG BUILDARCH
ARG TARGETARCH

# The linker and C compiler for each target. aws-lc-sys (rustls's crypto) and ring compile C with
# the cc crate, which reads CC_<target> and AR_<target>; aws-lc-sys needs no CMake on either
# target (it builds with cc and its pre-generated bindings, see
# https://aws.github.io/aws-lc-rs/requirements/linux). Each name below is the native gcc on a
# builder of that architecture and the cross gcc (installed next) on the other one; the settings
# for the architecture not being built are unused.
ENV CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=x86_64-linux-gnu-gcc \
    CC_x86_64_unknown_linux_gnu=x86_64-linux-gnu-gcc \
    AR_x86_64_unknown_linux_gnu=x86_64-linux-gnu-ar \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
    AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar

# The target's Rust standard library, and a cross C toolchain when the target is not the builder's
# own architecture. /rust-target keeps the Rust target name for the steps below. The cross
# packages are not pinned to a Debian version (DL3008): bookworm's archive keeps only the current
# version of each, so a pinned one stops installing at the next point release; what they are is
# fixed by the build image's release (Debian 12: gcc 12, glibc 2.36).
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# hadolint ignore=DL3008
RUN target_arch="${TARGETARCH:-$(dpkg --print-architecture)}" \
    && build_arch="${BUILDARCH:-$(dpkg --print-architecture)}" \
    && case "$target_arch" in \
         amd64) rust_target=x86_64-unknown-linux-gnu; cross_gcc=gcc-x86-64-linux-gnu ;; \
         arm64) rust_target=aarch64-unknown-linux-gnu; cross_gcc=gcc-aarch64-linux-gnu ;; \
         *) echo "unsupported TARGETARCH '$target_arch': this image is built for amd64 and arm64" >&2; exit 1 ;; \
       esac \
    && if [ "$target_arch" != "$build_arch" ]; then \
         apt-get update \
         && apt-get install -y --no-install-recommends "$cross_gcc" "libc6-dev-$target_arch-cross" \
         && rm -rf /var/lib/apt/lists/*; \
       fi \
    && rustup target add "$rust_target" \
    && echo "$rust_target" > /rust-target \
    && echo "$target_arch" > /rust-target-arch
WORKDIR /src

# Dependencies first, in their own layer: it is rebuilt only when a manifest or Cargo.lock
# changes (or the target does: each target platform has its own layer, and --target keeps the
# output under target/<rust target>/), not on every source edit. Cargo must load the whole
# workspace, so the emulator member's manifest is copied too; both crates get placeholder sources
# (the emulator is only a dev-dependency and is never compiled here, so it keeps its placeholder
# for good). So does each benchmark Cargo.toml declares by name: Cargo will not load a manifest
# whose [[bench]] has no source, and a benchmark is never compiled here either.
COPY Cargo.toml Cargo.lock ./
COPY emulator/Cargo.toml emulator/
RUN mkdir -p src emulator/src benches/convergence \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs emulator/src/lib.rs \
    && echo 'fn main() {}' > emulator/src/main.rs \
    && echo 'fn main() {}' > benches/convergence/main.rs \
    && cargo build --release --locked -p recommender-operator --target "$(cat /rust-target)" \
    && rm -rf src

# The real sources. COPY keeps the files' own modification times, which can be older than the
# placeholder build; touch them so Cargo rebuilds this crate instead of reusing the placeholder.
# The binary is copied to /out so the runtime stage need not know the Rust target name. It can
# only be run when it was built for the builder's own architecture (`--version` is the smoke
# check); a cross-built one is checked to be an ELF executable for the target's machine instead.
COPY src src
RUN find src -type f -exec touch {} + \
    && rust_target="$(cat /rust-target)" \
    && cargo build --release --locked -p recommender-operator --target "$rust_target" \
    && install -D -m 0755 "target/$rust_target/release/recommender-operator" /out/recommender-operator \
    && if [ "$(cat /rust-target-arch)" = "$(dpkg --print-architecture)" ]; then \
         /out/recommender-operator --version; \
       else \
         case "$rust_target" in \
           x86_64-*) machine='Advanced Micro Devices X86-64' ;; \
           aarch64-*) machine='AArch64' ;; \
         esac; \
         readelf -h /out/recommender-operator | grep -E "^ +Machine: +$machine\$"; \
       fi

# distroless/cc: glibc, libgcc and CA certificates, the runtime a dynamically linked Rust binary
# needs, and nothing else: no shell or package manager to exploit. The :nonroot tag runs as
# 65532:65532. The chart fixes no UID: USER below is numeric, so runAsNonRoot holds as it is, and
# OpenShift's restricted-v2 runs the pod under a UID of its own choosing.
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
LABEL org.opencontainers.image.title="recommender-operator" \
      org.opencontainers.image.description="Kubernetes operator for Amazon Pinpoint recommender models" \
      org.opencontainers.image.source="https://github.com/recommender-operator/recommender-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/recommender-operator /recommender-operator
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
# 8080: /metrics; 8081: /healthz and /readyz.
EXPOSE 8080 8081
ENTRYPOINT ["/recommender-operator"]
CMD ["run"]
