# The gateway in a container: official Bun image (pinned), production dependencies only,
# non-root. Not built on the development machine (it runs no Docker engine).
FROM oven/bun:1.4.4-slim

WORKDIR /app
COPY package.json bun.lock bunfig.toml ./
RUN bun install --frozen-lockfile --production
COPY src ./src
COPY gateway.example.yaml ./

ENV NODE_ENV=production
USER bun

# 8080: public port. 9090: admin port; it binds 127.0.0.1 by default, so set admin.host to
# 0.0.0.0 in your config if probes or scrapers must reach it from outside the container.
EXPOSE 8080 9090

HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["bun", "-e", "fetch('http://127.0.0.1:8080/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Exec form: `bun run` forwards SIGTERM to the gateway, which drains and exits 0.
CMD ["bun", "run", "start"]
