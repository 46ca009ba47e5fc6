# The driftless image for users who build with Docker — the same files as
# scripts/image bakes with driftless's own bake-image (which the release
# workflow uses): a base taken file by file from Debian bookworm by
# scripts/image-rootfs (busybox as /bin/sh, git with HTTPS, CA
# certificates), the multi-call binary driftless in /usr/local/bin with a
# link per step, running as uid 65532.
#
#   docker build --build-arg VERSION=$(git describe --tags) -t driftless .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/driftless-dev/driftless/internal/step.version=${VERSION}" \
      -o /out/bin/driftless ./cmd/driftless \
 && for s in $(/out/bin/driftless --help | sed -n '/^Steps:/,/^$/s/^  \([a-z-]*\) .*/\1/p'); do \
      ln -s driftless "/out/bin/$s"; \
    done

FROM debian:bookworm-slim AS rootfs
RUN apt-get update \
 && apt-get install -y --no-install-recommends busybox git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY scripts/image-rootfs /usr/local/bin/
RUN image-rootfs / /rootfs

FROM scratch
COPY --from=rootfs /rootfs/ /
COPY --from=build /out/bin/ /usr/local/bin/
ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp
USER 65532:65532
CMD ["/bin/sh"]
