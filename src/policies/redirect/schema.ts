import { z } from 'zod'

/** `routes[].redirect`: the route answers with a redirect itself (no upstream needed). */
export const redirectSchema = z.strictObject({
  /**
   * The Location: a path ("/...") or an http(s):// URL whose scheme and host are literal; may
   * use $path, $query (with its "?", or empty) and, with `rewrite`, its captures $1-$9.
   */
  to: z.string().min(1).max(2000),
  /** 301, 302, 303, 307 or 308 (nginx's default for a redirect is 302). */
  status: z.union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)], { error: 'must be 301, 302, 303, 307 or 308' }).default(302),
})

export type RedirectConfig = z.output<typeof redirectSchema>
