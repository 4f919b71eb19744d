/**
 * Who may read the admin port: a caller with `Authorization: Bearer <admin.bearerToken>`
 * (scrapers, curl), or, for the page and its JSON only, a browser holding the session cookie
 * that POST /login sets after checking the token from a form. A browser navigating to a URL
 * cannot send a bearer header, and the token must never sit in the page, its script, a URL
 * (history, Referer) or script-readable storage, so the cookie is HttpOnly and carries no
 * token: an expiry and an HMAC of it and of the token's digest under a key made at start.
 * A new token (reload) or a restart ends every session; nothing is stored per session.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { ADMIN_SESSION_COOKIE } from '../kernel/forwarding.ts'

/** Its name is the kernel's: the forwarding rules keep it from upstreams. */
export const SESSION_COOKIE = ADMIN_SESSION_COOKIE
/** How long a page session lasts before the login form comes back. */
export const SESSION_SECONDS = 12 * 60 * 60

const sha256 = (value: string) => createHash('sha256').update(value).digest()

/** Constant-time comparison of fixed-length digests, so neither length nor content leaks by timing. */
export function tokenMatches(given: string, token: string): boolean {
  return timingSafeEqual(sha256(given), sha256(token))
}

/** Whether `Authorization` carries the token as a bearer credential (RFC 6750 §2.1). */
export function bearerMatches(header: string | null, token: string): boolean {
  return tokenMatches(header?.startsWith('Bearer ') ? header.slice(7) : '', token)
}

export interface Sessions {
  /** A Set-Cookie value for a new session under `token`. */
  issue(token: string, now?: number): string
  /** Whether the Cookie header holds a live session under `token`. */
  valid(cookieHeader: string | null, token: string, now?: number): boolean
}

/** The Set-Cookie value that ends the session in the browser. */
export const CLEAR_COOKIE = `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`

export function createSessions(key: Buffer = randomBytes(32)): Sessions {
  const mac = (expires: number, token: string) =>
    createHmac('sha256', key).update(`${expires}.`).update(sha256(token)).digest('base64url')
  return {
    issue(token, now = Date.now()) {
      const expires = Math.floor(now / 1000) + SESSION_SECONDS
      // No Secure: the admin port speaks plain HTTP on loopback. SameSite=Strict keeps it off
      // every cross-site request (RFC 6265bis §5.6.7.1); HttpOnly keeps it from scripts.
      return `${SESSION_COOKIE}=${expires}.${mac(expires, token)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_SECONDS}`
    },
    valid(cookieHeader, token, now = Date.now()) {
      if (!cookieHeader) return false
      // Cookies are not isolated by port (RFC 6265 §8.5): another local service may have set
      // one of the same name, so any matching pair counts.
      for (const pair of cookieHeader.split(';')) {
        const [name, value] = pair.trim().split('=', 2)
        if (name !== SESSION_COOKIE || !value) continue
        const dot = value.indexOf('.')
        const expires = Number(value.slice(0, dot))
        if (dot < 1 || !Number.isSafeInteger(expires) || expires * 1000 <= now) continue
        const expected = Buffer.from(mac(expires, token))
        const given = Buffer.from(value.slice(dot + 1))
        if (given.length === expected.length && timingSafeEqual(given, expected)) return true
      }
      return false
    },
  }
}
