# The API image. Build from the repository root:
#   docker build -f deploy/api.Dockerfile -t tastegraph-api:0.2.0 .
# The same image runs the migrations (node dist/apps/migrate.js) and the operator commands.

# Stage 1: compile TypeScript (npm run build) with the dev dependencies.
FROM node:20.20-bookworm-slim AS build
WORKDIR /app
# onnxruntime-node's install script downloads CUDA files; the CPU binary ships in the package.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json schema.graphql ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

# Stage 2: production dependencies and the compiled JavaScript only (no TypeScript at run time).
FROM node:20.20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY schema.graphql ./
COPY prisma ./prisma
# The admin dashboard's static files, served at /admin.
COPY web ./web
COPY models ./models
# uid 1000 is the base image's `node` user; numeric, so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 4000
ENV HOST=0.0.0.0 PORT=4000
HEALTHCHECK --interval=10s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:4000/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--enable-source-maps", "dist/apps/api.js"]
