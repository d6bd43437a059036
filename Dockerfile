# syntax=docker/dockerfile:1
# driftwatch: the HTTP service (`driftwatch serve`), its CLI and the demo model, as a non-root image.
#
#   docker build -t driftwatch:0.1.0 .
#   docker run --rm -p 127.0.0.1:8080:8080 -v driftwatch-data:/data \
#     -e DRIFTWATCH_CONFIG=/etc/driftwatch/driftwatch.yaml -v "$PWD/driftwatch.yaml:/etc/driftwatch/driftwatch.yaml:ro" \
#     driftwatch:0.1.0
#
# Without DRIFTWATCH_DB the database is the SQLite file /data/driftwatch.db (a volume). The image listens on
# 0.0.0.0 (see DRIFTWATCH_HOST below), which driftwatch allows only with auth.tokens in a config file.
#
# test/shipping/dockerfile.test.ts reproduces this file's COPY and RUN steps in a temp directory and starts
# the result, so keep each step a plain COPY or a `&&` chain of commands.

# Pinned: the Node release the image runs. Node 20's ABI (115) is what better-sqlite3's and
# onnxruntime-node's native binaries are built for. To pin the digest as well:
#   docker buildx imagetools inspect node:20.20.2-bookworm-slim   →   FROM node:20.20.2-bookworm-slim@sha256:…
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---- build: compile TypeScript and the native addon, then drop dev dependencies ----------------------
FROM ${NODE_IMAGE} AS build
# better-sqlite3 is a native addon: prebuild-install fetches a prebuilt binary when one matches, otherwise
# node-gyp compiles it, which needs python3, make and g++.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app

# Dependencies first, so an edit under src/ does not reinstall them. .npmrc carries
# onnxruntime-node-install=skip, which keeps onnxruntime-node's install script from downloading CUDA
# libraries (its CPU binary for linux x64/arm64 ships in the npm tarball). --ignore-scripts because
# `prepare` (the build) needs src/, which is not copied yet; the addons' own install scripts are then run
# by `npm rebuild`.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 onnxruntime-node

COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: production dependencies, compiled code, migrations and the demo model only --------------
FROM ${NODE_IMAGE} AS runtime
# Text in the PNG charts of email reports needs a font, and the slim image has none.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
# DRIFTWATCH_HOST=0.0.0.0: inside a container loopback is the container's (or the pod's) own, so a published
# port or a Service could not reach 127.0.0.1. driftwatch REFUSES to start on a non-loopback address unless
# auth.tokens are configured (a config file named by DRIFTWATCH_CONFIG) or `serve --insecure` is passed:
# an open API on the network would let anyone change baselines. /healthz and /readyz need no token.
# A sidecar that only its own pod's containers call can set DRIFTWATCH_HOST=127.0.0.1 and run without tokens.
ENV NODE_ENV=production \
    DRIFTWATCH_HOST=0.0.0.0 \
    DRIFTWATCH_PORT=8080 \
    DRIFTWATCH_DB=/data/driftwatch.db \
    DRIFTWATCH_MODELS_DIR=/app/models
WORKDIR /app

COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
COPY --chown=root:root bin ./bin
# Read at start-up from ../../../drizzle/{sqlite,pg} relative to dist/store/*/client.js.
COPY --chown=root:root drizzle ./drizzle
# The served model repository (serving.modelsDir): the demo model `weather`, versions 1 and 2. Mount
# another directory over /app/models (or set DRIFTWATCH_MODELS_DIR) to serve your own.
COPY --chown=root:root models ./models

# The code is owned by root and read-only to the service; only /data is writable, by the `node` user
# (uid 1000) that the base image provides.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node

EXPOSE 8080
# /healthz answers without touching the database (503 only while starting). Node's fetch, since the slim
# image has neither curl nor wget. Follows DRIFTWATCH_PORT; a port set only in the config file is not seen.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.DRIFTWATCH_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Node runs as PID 1 and driftwatch handles SIGTERM itself: /readyz turns 503, in-flight requests finish,
# leadership is handed over, then the database is closed.
ENTRYPOINT ["node", "bin/driftwatch.js"]
CMD ["serve"]
