/**
 * nginx side by side (`--compare nginx`): the same routes as the bench gateway config, with a
 * keep-alive upstream pool and proxy_cache for /cached, on loopback, in a temp prefix. With a
 * certificate, the same routes again over TLS with HTTP/2 (ALPN h2) on a second port, for the
 * h2 scenario.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The TLS port with HTTP/2 and its certificate files. */
export interface NginxH2 {
  port: number
  cert: string
  key: string
}

/** nginx's gzip for the compression scenarios: level 1 (its default), the gateway's minimum and Vary. */
const GZIP = 'gzip on; gzip_comp_level 1; gzip_min_length 1024; gzip_types application/json; gzip_vary on; gzip_proxied any;'

export function nginxConfig(dir: string, port: number, upstreamPort: number, workers: number, h2?: NginxH2): string {
  const locations = `    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location = /health { return 200 '{"status":"ok"}'; }
    location /cached/ { proxy_pass http://fixture; proxy_cache bench; }
    location /api/ { proxy_pass http://fixture/; }
    # The websocket scenario: the upgrade passed through (nginx's documented WebSocket proxying).
    location = /api/ws {
      proxy_pass http://fixture/ws;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
    }
    # No auth in nginx: the authenticated scenarios compare against plain proxying.
    location /keyed/ { proxy_pass http://fixture/; }
    location /jwt/ { proxy_pass http://fixture/; }
    # nginx's limit_req is per node: the global-limit scenario compares against plain proxying.
    location /limited/ { proxy_pass http://fixture/; }
    # No plugins in nginx: the plugin scenarios compare against plain proxying.
    location /plugin/ { proxy_pass http://fixture/; }
    location /hono/ { proxy_pass http://fixture/; }
    # The compression scenarios: gzip at nginx's default level, as the gateway's zipped routes.
    location /zipped/ { proxy_pass http://fixture/; ${GZIP} }
    location /zipped-cached/ { proxy_pass http://fixture/; proxy_cache bench; ${GZIP} }`
  // nginx 1.22 (Debian 12) spells HTTP/2 as a listen parameter; 1.25+ also takes "http2 on;".
  const tlsServer = h2
    ? `
  server {
    listen 127.0.0.1:${h2.port} ssl http2 reuseport;
    ssl_certificate ${h2.cert};
    ssl_certificate_key ${h2.key};
    # nginx ends an h2 connection after keepalive_requests streams (1000 by default) and h2load
    # does not reconnect: the gateway sets no such limit.
    keepalive_requests 1000000;
${locations}
  }`
    : ''
  return `worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  proxy_cache_path ${dir}/cache keys_zone=bench:10m max_size=256m;
  proxy_temp_path ${dir}/proxy_temp;
  client_body_temp_path ${dir}/body_temp;
  upstream fixture { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} reuseport;
${locations}
  }${tlsServer}
}
`
}

export interface RunningNginx {
  readonly port: number
  /** The TLS + HTTP/2 port, when started with a certificate. */
  readonly h2Port?: number
  /** The master's pid; its workers are its children. */
  readonly pid: number
  stop(): Promise<void>
}

/** Starts nginx in the foreground (so its pid is ours to stop); undefined when not installed. */
export async function startNginx(upstreamPort: number, workers: number, port: number, h2?: NginxH2): Promise<RunningNginx | undefined> {
  const binary = Bun.which('nginx') ?? ['/usr/sbin/nginx'].find((p) => Bun.file(p).size > 0)
  if (!binary) return undefined
  const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-'))
  // Started as root, nginx's workers drop to an unprivileged user that must write the cache.
  chmodSync(dir, 0o777)
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, nginxConfig(dir, port, upstreamPort, workers, h2))
  const proc = Bun.spawn([binary, '-p', dir, '-c', conf, '-g', 'daemon off;'], { stdout: 'ignore', stderr: 'pipe' })
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`nginx exited: ${await new Response(proc.stderr).text()}`)
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break
    } catch {
      await Bun.sleep(50)
    }
  }
  return {
    port,
    h2Port: h2?.port,
    pid: proc.pid,
    async stop() {
      proc.kill('SIGQUIT')
      await proc.exited
    },
  }
}
