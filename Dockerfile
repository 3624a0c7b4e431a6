# One image for both processes:
#   controller: node src/controller/main.ts   (the default command)
#   agent:      node src/agent/main.ts
# Node 24 runs the TypeScript sources directly (type stripping): no build step, no compiler in
# the image. Runs as a non-root user and writes nothing to its root filesystem, so it works with
# readOnlyRootFilesystem and the `restricted` Pod Security level.
#
#   docker build -t <registry>/kube-offers:0.1.0 .

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; no install scripts.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    NODE_NO_WARNINGS=1
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["node"]
CMD ["src/controller/main.ts"]
