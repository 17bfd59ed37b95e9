# Production image of a Nova KMS node (README, "Deploying to the Nova platform"): Node 24, the
# current LTS, runs the one bundle dist/kms.mjs (DESIGN §1). The final stage holds the base
# image and that file only; `enclaver build -f enclaver.yaml` then makes the enclave image.
#
#   set -a && . deploy/operator.env && set +a
#   docker build --build-arg KMS_REGISTRY_ADDRESS --build-arg NOVA_APP_REGISTRY_ADDRESS \
#     --build-arg KMS_APP_ID -t nova-kms:0.1.0 .
#
# The base is pinned by digest: node:24-bookworm-slim as docker-library/repo-info recorded it
# for the build of 25 Aug 2026 (Node 24.19.0 with npm 11.17.0; an OCI index for linux/amd64,
# arm64, ppc64le).
# Refresh it before a release (a new base is a new codeMeasurement) with either of
#   docker buildx imagetools inspect node:24-bookworm-slim --format '{{json .Manifest}}'
#   crane digest node:24-bookworm-slim
# and put the index digest (`.digest` of the first) after the `@`, and the Node and npm
# versions that image ships in NODE_VERSION and NPM_VERSION: the build stops if they differ,
# so a refreshed digest cannot bring in another toolchain unnoticed. `npm run test:image`
# builds a stand-in base with exactly these versions (README, "Building the image here").
ARG BASE_IMAGE=node:24-bookworm-slim@sha256:a9f5f7c91a432850b2a8a7797adf5eadb6c733ceed61167806cee7ea7fbc29df
ARG NODE_VERSION=24.19.0
ARG NPM_VERSION=11.17.0

FROM ${BASE_IMAGE} AS build
ARG NODE_VERSION
ARG NPM_VERSION
RUN test "$(node --version)" = "v${NODE_VERSION}" && test "$(npm --version)" = "${NPM_VERSION}" \
 || { echo "the base has Node $(node --version) and npm $(npm --version), not v${NODE_VERSION} and ${NPM_VERSION}: update the Dockerfile's NODE_VERSION and NPM_VERSION with the digest" >&2; exit 1; }
WORKDIR /src
# `npm install`, not `npm ci`, for the reason .ci/run gives; it installs the locked versions.
COPY package.json package-lock.json .npmrc ./
RUN npm install --no-audit --no-fund --ignore-scripts
COPY tsconfig.json esbuild.config.ts ./
COPY core ./core
COPY functions ./functions
COPY bundle ./bundle
# dist/kms.mjs alone; the same source gives the same bytes (test/deploy/reproducible.test.ts).
RUN npx tsx esbuild.config.ts --only kms && sha256sum dist/kms.mjs
# The operator's node settings (deploy/operator.env) must pass the node's own checks here,
# not first inside the enclave.
ARG KMS_REGISTRY_ADDRESS
ARG NOVA_APP_REGISTRY_ADDRESS
ARG KMS_APP_ID
RUN IN_ENCLAVE=true npx tsx -e "import('./core/config.ts').then(({ readConfig }) => readConfig(process.env))"

FROM ${BASE_IMAGE}
ARG KMS_REGISTRY_ADDRESS
ARG NOVA_APP_REGISTRY_ADDRESS
ARG KMS_APP_ID
# The host cannot pass environment variables into the enclave: the node's settings are these.
ENV NODE_ENV=production \
    IN_ENCLAVE=true \
    BIND_ADDR=0.0.0.0:8000 \
    KMS_REGISTRY_ADDRESS=${KMS_REGISTRY_ADDRESS} \
    NOVA_APP_REGISTRY_ADDRESS=${NOVA_APP_REGISTRY_ADDRESS} \
    KMS_APP_ID=${KMS_APP_ID}
WORKDIR /app
COPY --from=build /src/dist/kms.mjs /app/kms.mjs
# The base image's unprivileged user (uid 1000); the bundle stays root-owned and read-only to it.
USER node
EXPOSE 8000
# No health check: inside the enclave, the host probes /health through the ingress proxy.
ENTRYPOINT ["node", "/app/kms.mjs"]
