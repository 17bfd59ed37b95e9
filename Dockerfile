# Production image: Node LTS runs the one bundle, dist/kms.mjs (DESIGN §1). The bundle has
# no runtime dependencies outside itself, so the final stage holds only Node and that file.
# Build: docker build -t nova-kms . ; the enclave image is then made with enclaver.yaml.

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --ignore-scripts
COPY tsconfig.json esbuild.config.ts ./
COPY core ./core
COPY functions ./functions
COPY bundle ./bundle
RUN npx tsx esbuild.config.ts

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    IN_ENCLAVE=true \
    BIND_ADDR=0.0.0.0:8000
WORKDIR /app
COPY --from=build /src/dist/kms.mjs ./kms.mjs
USER node
EXPOSE 8000
# No health check here: inside the enclave, the host probes /health through the ingress proxy.
CMD ["node", "kms.mjs"]
