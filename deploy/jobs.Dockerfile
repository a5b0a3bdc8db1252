# The jobs image: the nightly training schedule and training runs (npm run jobs). It runs the
# PyTorch trainer, so it carries Debian's python3-torch beside Node. Build from the repository root:
#   docker build -f deploy/jobs.Dockerfile -t tastegraph-jobs:0.2.0 .

# Stage 1: compile TypeScript (npm run build) with the dev dependencies.
FROM node:20.20-bookworm-slim AS build
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json schema.graphql ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

# Stage 2: Node, Debian's PyTorch, production dependencies and the compiled JavaScript.
FROM node:20.20-bookworm-slim
# libopenblas0-pthread: without it Debian's torch uses the reference BLAS, about 10x slower.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-torch python3-onnx python3-numpy libopenblas0-pthread \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The jobs check each trained artifact in onnxruntime's CPU build before it is promoted.
ENV NODE_ENV=production ONNXRUNTIME_NODE_INSTALL=skip PYTHONDONTWRITEBYTECODE=1
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY schema.graphql ./
COPY prisma ./prisma
COPY trainer ./trainer
COPY models ./models
# The tenants' model store (a volume shared with the API and the workers) and the runs' scratch space.
RUN mkdir -p /var/lib/tastegraph/models /var/lib/tastegraph/training && chown -R 1000:1000 /var/lib/tastegraph
USER 1000:1000
ENV HOST=0.0.0.0 JOBS_PORT=4100 TRAINER_PYTHON=/usr/bin/python3 \
    TENANT_MODEL_STORE=/var/lib/tastegraph/models TRAINING_WORK_DIR=/var/lib/tastegraph/training
EXPOSE 4100
HEALTHCHECK --interval=10s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:4100/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--enable-source-maps", "dist/apps/jobs.js"]
