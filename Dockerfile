# kubexit's image: a static binary at /kubexit in an otherwise empty image (FROM scratch), non-root.
#
#   docker build -t kubexit:latest .                                        # compile in golang:, final image
#   docker buildx build --platform linux/amd64,linux/arm64,linux/arm/v7,linux/ppc64le,linux/s390x -t kubexit .
#   CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o kubexit . &&
#     docker build --target prebuilt -t kubexit:latest .                    # host binary, no registry needed
#   docker build --target busybox -t kubexit:busybox .                      # + busybox: for init-container copies
#   docker build --target inject -t kubexit:inject .                        # kubexit --inject as a KRM container function
#
# Build args: VERSION (the image label, and -X main.version), GO_VERSION, BUSYBOX_IMAGE, BINARY
# (where /kubexit comes from for the busybox and default targets: "compiled" compiles it in the
# build stage, "context" takes ./kubexit from the build context; for the inject target, the same
# with -tags inject, or ./kubexit-inject), TARGETOS/TARGETARCH/TARGETVARIANT
# (set by BuildKit from --platform; v7 -> GOARM=7).
# No "# syntax=" line on purpose: it would pull a frontend image from a registry.

ARG GO_VERSION=1.26.8
ARG BUSYBOX_IMAGE=busybox:1.37
ARG BINARY=compiled

# ---- build: a static kubexit for TARGETOS/TARGETARCH, cross-compiled on the build platform
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS=linux
ARG TARGETARCH
ARG TARGETVARIANT
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY *.go ./
# linux/arm/v7 -> GOARM=7 (shell expansion: RUN sees the ARGs as environment variables)
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} GOARM="${TARGETVARIANT#v}" GOTOOLCHAIN=local \
    go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/kubexit .

# ---- build-inject: kubexit with --inject (-tags inject), for the inject target only
FROM build AS build-inject
ARG TARGETOS=linux
ARG TARGETARCH
ARG TARGETVARIANT
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} GOARM="${TARGETVARIANT#v}" GOTOOLCHAIN=local \
    go build -tags inject -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/kubexit-inject .

# ---- compiled: /kubexit from the build stage
FROM scratch AS compiled
COPY --from=build /out/kubexit /kubexit

# ---- context: ./kubexit from the build context (CGO_ENABLED=0 go build ... on the host)
FROM scratch AS context
COPY kubexit /kubexit

FROM ${BINARY} AS binary

# ---- compiled-inject, context-inject: the same for the inject target
FROM scratch AS compiled-inject
COPY --from=build-inject /out/kubexit-inject /kubexit
FROM scratch AS context-inject
COPY kubexit-inject /kubexit
FROM ${BINARY}-inject AS binary-inject

# ---- prebuilt: the final image from a binary built on the host; needs no registry at all
FROM scratch AS prebuilt
ARG VERSION=dev
LABEL org.opencontainers.image.title=kubexit org.opencontainers.image.version=${VERSION}
COPY kubexit /kubexit
USER 65532:65532
ENTRYPOINT ["/kubexit"]

# ---- busybox: kubexit plus busybox's cp and sh, for the init-container pattern
#      (initContainers: [{image: kubexit:busybox, command: [cp, /kubexit, /kubexit-bin/kubexit]}])
FROM ${BUSYBOX_IMAGE} AS busybox
ARG VERSION=dev
LABEL org.opencontainers.image.title=kubexit org.opencontainers.image.version=${VERSION}
COPY --from=binary /kubexit /kubexit
USER 65532:65532
ENTRYPOINT ["/kubexit"]

# ---- inject: kubexit --inject as a KRM container function (kpt fn eval --image, kustomize's
#      container functions): a ResourceList on stdin, the settings in its functionConfig
FROM scratch AS inject
ARG VERSION=dev
LABEL org.opencontainers.image.title=kubexit-inject org.opencontainers.image.version=${VERSION}
COPY --from=binary-inject /kubexit /kubexit
USER 65532:65532
ENTRYPOINT ["/kubexit", "--inject"]

# ---- final (default target): only /kubexit
FROM scratch AS final
ARG VERSION=dev
LABEL org.opencontainers.image.title=kubexit org.opencontainers.image.version=${VERSION}
COPY --from=binary /kubexit /kubexit
USER 65532:65532
ENTRYPOINT ["/kubexit"]

