/** A client's TLS settings (`upstreams.*.tls`, `redis.tls`) with the CA file read once, at boot. */
import { readFileSync } from 'node:fs'

export interface ClientTls {
  ca?: string
  serverName?: string
  rejectUnauthorized: boolean
}

export function readClientTls(tls: { caFile?: string | undefined; serverName?: string | undefined; insecureSkipVerify: boolean } | undefined): ClientTls | undefined {
  if (!tls) return undefined
  return { ca: tls.caFile ? readFileSync(tls.caFile, 'utf8') : undefined, serverName: tls.serverName, rejectUnauthorized: !tls.insecureSkipVerify }
}
