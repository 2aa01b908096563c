# syntax=docker/dockerfile:1
# Build stage: compiles TypeScript and better-sqlite3's native addon (no prebuilt download needed).
FROM node:24-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Runtime stage: no compiler, no dev dependencies, not root.
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    MQLITE_DB=/data/mqlite.db \
    MQLITE_HTTP=0.0.0.0:9464 \
    MQLITE_LISTEN=0.0.0.0:1883
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
# 1883: embedded broker (needs embedded.users or allowAnonymous in a mounted config, since it
# listens on all interfaces here); 9464: /metrics, /healthz, /readyz.
EXPOSE 1883 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Exec form: node is PID 1 and receives SIGTERM itself, so shutdown drains and commits.
# node as PID 1 does not reap zombies, but mqlite spawns no children.
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["run"]
