/**
 * nginx side by side (`--compare nginx`): the same routes as the bench gateway config, with a
 * keep-alive upstream pool and proxy_cache for /cached, on loopback, in a temp prefix.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** nginx's gzip for the compression scenarios: level 1 (its default), the gateway's minimum and Vary. */
const GZIP = 'gzip on; gzip_comp_level 1; gzip_min_length 1024; gzip_types application/json; gzip_vary on; gzip_proxied any;'

export function nginxConfig(dir: string, port: number, upstreamPort: number, workers: number): string {
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
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location = /health { return 200 '{"status":"ok"}'; }
    location /cached/ { proxy_pass http://fixture; proxy_cache bench; }
    location /api/ { proxy_pass http://fixture/; }
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
    location /zipped-cached/ { proxy_pass http://fixture/; proxy_cache bench; ${GZIP} }
  }
}
`
}

export interface RunningNginx {
  readonly port: number
  /** The master's pid; its workers are its children. */
  readonly pid: number
  stop(): Promise<void>
}

/** Starts nginx in the foreground (so its pid is ours to stop); undefined when not installed. */
export async function startNginx(upstreamPort: number, workers: number, port: number): Promise<RunningNginx | undefined> {
  const binary = Bun.which('nginx') ?? ['/usr/sbin/nginx'].find((p) => Bun.file(p).size > 0)
  if (!binary) return undefined
  const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-'))
  // Started as root, nginx's workers drop to an unprivileged user that must write the cache.
  chmodSync(dir, 0o777)
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, nginxConfig(dir, port, upstreamPort, workers))
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
    pid: proc.pid,
    async stop() {
      proc.kill('SIGQUIT')
      await proc.exited
    },
  }
}
