# The gateway from source in a container: official Bun image (pinned), production
# dependencies only, non-root. It needs the image registry; deploy/image/Dockerfile builds
# the compiled binary onto a base made from Debian's packages instead, and .ci/image builds
# and runs that one.
FROM oven/bun:1.4.5-slim

WORKDIR /app
COPY package.json bun.lock bunfig.toml ./
RUN bun install --frozen-lockfile --production
COPY src ./src
COPY gateway.example.yaml ./

ENV NODE_ENV=production
# The root filesystem may be read-only (deploy/kubernetes): no transpiler cache to write.
ENV BUN_RUNTIME_TRANSPILER_CACHE_PATH=0
USER bun

# 8080: public port. 9090: admin port; it binds 127.0.0.1 by default, so set admin.host to
# 0.0.0.0 in your config if probes or scrapers must reach it from outside the container.
EXPOSE 8080 9090

# The admin port's /ready (plain HTTP): right whatever PORT or server.tls say. It reads
# admin.host and admin.port from the file GATEWAY_CONFIG names (and GATEWAY_ADMIN_PORT).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["bun", "src/main.ts", "--healthcheck"]

# Exec form, so `bun run` is PID 1: it forwards SIGTERM, SIGINT and SIGHUP to the gateway,
# which drains and exits 0, and the gateway reaps its own workers. Nothing is orphaned while
# PID 1 lives (workers die with their primary), so no init (tini) is needed; a shell-form CMD
# would make sh PID 1, which ignores SIGTERM. test/integration/pid1.test.ts checks all this.
CMD ["bun", "run", "start"]
