# The driftless image for users who build with Docker — equivalent to what
# scripts/image bakes with driftless's own bake-image (which the release
# workflow uses): the six static step binaries in /usr/local/bin on Debian
# bookworm with git and CA certificates, running as uid 65532.
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
      -o /out/ ./cmd/...

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
ENV HOME=/tmp
USER 65532:65532
CMD ["/bin/sh"]
