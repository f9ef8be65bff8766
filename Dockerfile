# syntax=docker/dockerfile:1
# Multi-stage: a static, trimmed binary on a distroless base, run as non-root.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/agentgate ./cmd/agentgate \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/agentgate /usr/local/bin/agentgate
# The data dir holds the SQLite store, keys and saved app credentials.
COPY --from=build --chown=65532:65532 /out/data /var/lib/agentgate
ENV AGENTGATE_DATA_DIR=/var/lib/agentgate \
    AGENTGATE_ADDR=:8080
VOLUME ["/var/lib/agentgate"]
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/agentgate"]
CMD ["serve"]
