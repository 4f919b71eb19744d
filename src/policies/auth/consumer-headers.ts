/**
 * Every header that carries a consumer upstream: the default and each route's; only auth
 * sets them. Apart from schema.ts, which only the config loader loads: the app reads it in
 * every worker.
 */
export function consumerHeaderNames(routes: readonly { auth?: { consumerHeader: string } | undefined }[]): Set<string> {
  return new Set(['x-consumer', ...routes.flatMap((r) => (r.auth ? [r.auth.consumerHeader] : []))])
}
