# One image for both processes, each one bundled ES module (src/local/bundle.ts):
#   controller: node dist/controller.mjs   (the default command; from src/controller/main.ts)
#   agent:      node dist/agent.mjs        (from src/agent/main.ts)
# A bundle holds only what its process imports: no node_modules and no sources to type-strip in
# the image, ~50 MiB less resident memory per process. Runs as a non-root user and writes nothing
# to its root filesystem, so it works with readOnlyRootFilesystem and the `restricted` Pod
# Security level. `npm run images` builds the same image without Docker.
#
#   docker build -t <registry>/kube-offers:0.1.0 .

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The bundler is a devDependency; no install scripts.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY src ./src
RUN node src/local/bundle.ts dist

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    NODE_NO_WARNINGS=1
WORKDIR /app
COPY --from=build /app/dist ./dist
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["node"]
CMD ["dist/controller.mjs"]
