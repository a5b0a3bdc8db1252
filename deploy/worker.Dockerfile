# The inference worker image, for NVIDIA GPUs (CUDA 12). Build from the repository root:
#   docker build -f deploy/worker.Dockerfile -t tastegraph-worker:0.2.0 .

# Stage 1: compile TypeScript (npm run build); the output is plain JavaScript for any Node 20.
FROM node:20.20-bookworm-slim AS build
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json schema.graphql ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

# Stage 2: CUDA and cuDNN for onnxruntime's CUDA provider, Node 20 from NodeSource.
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
 && curl -fsSL https://deb.nodesource.com/setup_20.x | bash - \
 && apt-get install -y --no-install-recommends nodejs && rm -rf /var/lib/apt/lists/*
# The CUDA base image has no unprivileged user (the node images' `node` is theirs): make one,
# with the same uid as the other images so volumes' ownership works alike.
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home --shell /usr/sbin/nologin node
WORKDIR /app
ENV NODE_ENV=production
# onnxruntime-node's install script fetches its CUDA 12 provider here, where there is network.
ENV ONNXRUNTIME_NODE_INSTALL=cuda12
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --foreground-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY models ./models
USER 1000:1000
EXPOSE 8000
ENV WORKER_HOST=0.0.0.0 WORKER_PORT=8000 EXECUTION_PROVIDER=cuda MODEL_STORE=/app/models
HEALTHCHECK --interval=10s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:8000/v2/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--enable-source-maps", "dist/apps/worker.js"]
