# The inference worker image, for NVIDIA GPUs (CUDA 12). Build from the repository root:
#   docker build -f deploy/worker.Dockerfile -t tastegraph-worker .
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
 && curl -fsSL https://deb.nodesource.com/setup_20.x | bash - \
 && apt-get install -y --no-install-recommends nodejs && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
# onnxruntime-node's install script fetches its CUDA 12 provider here, where there is network.
ENV ONNXRUNTIME_NODE_INSTALL=cuda12
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --foreground-scripts && npm install --no-save tsx@4.23
COPY src ./src
COPY models ./models
USER node
EXPOSE 8000
ENV WORKER_HOST=0.0.0.0 WORKER_PORT=8000 EXECUTION_PROVIDER=cuda MODEL_STORE=/app/models
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:8000/v2/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--import", "tsx", "src/apps/worker.ts"]
