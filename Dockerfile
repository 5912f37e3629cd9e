# syntax=docker/dockerfile:1
# taxbridge server image: see docs/deploy.md. test/dockerfile.test.ts parses this file (stages, user, volume, health check).

# Build stage: dev dependencies, TypeScript compiled to dist/, the console built (npm run build).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# Runtime stage: production dependencies and the built package only; no compiler, no tsx, no sources.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    TAXBRIDGE_HOST=0.0.0.0 \
    TAXBRIDGE_PORT=8080 \
    TAXBRIDGE_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist/cli ./dist/cli
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/fakes ./dist/fakes
COPY --from=build /app/console/dist ./console/dist
COPY --from=build /app/schemas ./schemas
COPY --from=build /app/connectors ./connectors
# The data folder: store files, master key (if created with --init-key), admin token hash. 0700, owned by the server's user.
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.TAXBRIDGE_PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "--max-semi-space-size=64", "bin/taxbridge.js"]
CMD ["serve"]
