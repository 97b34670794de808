# syntax=docker/dockerfile:1
# psi as a container image: `docker build -t psi .` (BuildKit, the default builder since Docker
# 23, for the cache mounts; with Podman add `--format docker`, or the health check is dropped).
# How to run it: README.md, "Run it as a server".

# The toolchain of the workspace's rust-version, on the Debian release the runtime stage uses.
FROM rust:1.88-bookworm AS build
# psi-server links the system's OpenSSL to sign webhooks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Downloaded crates and compiled dependencies stay in cache mounts between builds, so a change to
# psi's sources recompiles psi's crates only. The mounts are not part of the image: the binary is
# copied out of them.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin psi \
 && install -D -m 0755 target/release/psi /out/psi

FROM debian:bookworm-slim
# ca-certificates: webhooks and notifications to https:// receivers; libssl3: psi's OpenSSL.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/*
# A fixed uid and gid, so a bind-mounted data directory can be handed to it
# (`chown 10001:10001 DIR`) and a platform can check it is not root without a passwd lookup.
RUN groupadd --system --gid 10001 psi \
 && useradd --system --uid 10001 --gid psi --home-dir /var/lib/psi --no-create-home \
      --shell /usr/sbin/nologin psi \
 && install -d -o psi -g psi -m 0700 /var/lib/psi
COPY --from=build /out/psi /usr/local/bin/psi
# Listen on every interface of the container (the port is published or not by whoever runs it);
# the SQLite database and the generated master key go to the volume.
ENV PSI_LISTEN=0.0.0.0:8080 \
    PSI_DATA_DIR=/var/lib/psi
VOLUME ["/var/lib/psi"]
EXPOSE 8080
WORKDIR /var/lib/psi
USER 10001:10001
# The image has no curl: `psi health` GETs /readyz on PSI_LISTEN's port (the database answers).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["psi", "health"]
ENTRYPOINT ["psi"]
CMD ["serve"]
