# The jobs image: the nightly training schedule and training runs (npm run jobs). It runs the
# PyTorch trainer, so it carries Debian's python3-torch beside Node. Build from the repository root:
#   docker build -f deploy/jobs.Dockerfile -t tastegraph-jobs .
FROM node:20-bookworm-slim
# libopenblas0-pthread: without it Debian's torch uses the reference BLAS, about 10x slower.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-torch python3-onnx python3-numpy libopenblas0-pthread \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# The jobs check each trained artifact in onnxruntime's CPU build before it is promoted.
ENV ONNXRUNTIME_NODE_INSTALL=skip
RUN npm ci --omit=dev && npm install --no-save tsx@4.23
COPY schema.graphql ./
COPY prisma ./prisma
COPY src ./src
COPY trainer ./trainer
COPY models ./models
# The tenants' model store (a volume shared with the API and the workers) and the runs' scratch space.
RUN mkdir -p /var/lib/tastegraph/models /var/lib/tastegraph/training && chown -R node:node /var/lib/tastegraph
USER node
ENV HOST=0.0.0.0 JOBS_PORT=4100 TRAINER_PYTHON=/usr/bin/python3 \
    TENANT_MODEL_STORE=/var/lib/tastegraph/models TRAINING_WORK_DIR=/var/lib/tastegraph/training
EXPOSE 4100
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:4100/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--import", "tsx", "src/apps/jobs.ts"]
