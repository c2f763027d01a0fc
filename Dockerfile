# Image of workspacedb-operator: `node dist/main.js` as uid 1000, for a read-only root file system.
#
# On a Docker host (the public Node.js image of the version hack/lib/node.sh pins, by digest):
#   docker build -t <your registry>/workspacedb-operator:0.1.0 .
# On a machine without a registry, hack/build-images.sh builds this same file with buildah on bases
# assembled from Debian's packages and the npm registry's Node.js (BUILD_BASE and BASE below; see
# the README's "The image").
#
# BUILD_BASE: Node.js and npm, a shell. BASE: Node.js at /usr/local/bin/node and uid 1000; nothing
# of BUILD_BASE reaches it but the compiled code and the production dependencies.
ARG BUILD_BASE=node:24.21.0-slim@sha256:0e0ff40c39bc087845bfb27465a0df4ea419520094bc35842ff83dd8cbe6f9b6
ARG BASE=node:24.21.0-slim@sha256:0e0ff40c39bc087845bfb27465a0df4ea419520094bc35842ff83dd8cbe6f9b6

# Build: install every dependency, compile TypeScript to dist/, then drop the dev dependencies.
FROM ${BUILD_BASE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# npm's cache persists between builds. A machine whose HTTPS goes through its own CA passes that CA
# as the optional secret "npm-ca" (docker build --secret id=npm-ca,src=...); nothing of it stays in
# the image.
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npm-ca \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi; \
    npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json ./
COPY src ./src
# The database page: web/ bundled by hack/build-ui.ts into dist/ui-static (no CDN at run time).
COPY web ./web
COPY hack/build-ui.ts ./hack/build-ui.ts
RUN npm run build && npm prune --omit=dev --no-audit --no-fund --loglevel=error \
    && find node_modules -depth -type d -empty -delete && rm -f .npmrc

# Runtime: compiled code and production dependencies only, as uid 1000 ("node" in both bases).
FROM ${BASE}
ENV NODE_ENV=production
# V8 heap flags: flat resident memory through bursts (docs/performance.md); the chart sets them too.
ENV NODE_OPTIONS="--max-semi-space-size=2 --max-old-space-size=256"
# glibc malloc: two arenas, large buffers mapped and returned at once, free memory trimmed early
# (measured with hack/bench.sh: about 20 MB less at 2,000 workspaces; the chart sets them too).
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536 MALLOC_TRIM_THRESHOLD_=131072
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Default settings; the Deployment mounts its own file and passes --config.
COPY config/operator.yaml ./config/operator.yaml
USER 1000:1000
EXPOSE 8080 8443
CMD ["node", "dist/main.js"]
