# The API image. Build from the repository root:
#   docker build -f deploy/api.Dockerfile -t tastegraph-api .
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# onnxruntime-node's install script downloads CUDA files; the API scores through workers (or
# on CPU in process), and the CPU binary ships inside the package.
ENV ONNXRUNTIME_NODE_INSTALL=skip
# tsx runs the TypeScript sources directly, so it is needed at run time.
RUN npm ci --omit=dev && npm install --no-save tsx@4.23
COPY schema.graphql ./
COPY prisma ./prisma
COPY src ./src
# The admin dashboard's static files, served at /admin.
COPY web ./web
COPY models ./models
USER node
EXPOSE 4000
ENV HOST=0.0.0.0 PORT=4000
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:4000/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--import", "tsx", "src/apps/api.ts"]
