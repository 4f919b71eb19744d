import { describe, expect, test } from 'bun:test'
import { bearerMatches, createSessions, SESSION_COOKIE, SESSION_SECONDS } from './session.ts'

const TOKEN = 'an-admin-token-of-some-length'
/** The Cookie header a browser sends back for a Set-Cookie value. */
const cookieOf = (setCookie: string) => setCookie.split(';')[0]!

describe('admin sessions', () => {
  test('a session cookie is valid for its token until it expires, and carries no token', () => {
    const sessions = createSessions()
    const now = Date.now()
    const set = sessions.issue(TOKEN, now)
    expect(set).toStartWith(`${SESSION_COOKIE}=`)
    expect(set).toContain('HttpOnly')
    expect(set).toContain('SameSite=Strict')
    expect(set).not.toContain(TOKEN)
    expect(sessions.valid(cookieOf(set), TOKEN, now)).toBe(true)
    expect(sessions.valid(`other=1; ${cookieOf(set)}`, TOKEN, now)).toBe(true)
    expect(sessions.valid(cookieOf(set), TOKEN, now + SESSION_SECONDS * 1000 + 1000)).toBe(false)
  })

  test('refuses another token, another process key, a changed expiry and a forged value', () => {
    const sessions = createSessions()
    const now = Date.now()
    const cookie = cookieOf(sessions.issue(TOKEN, now))
    expect(sessions.valid(cookie, 'another-admin-token-0123456', now)).toBe(false)
    expect(createSessions().valid(cookie, TOKEN, now)).toBe(false)
    const [expires, mac] = cookie.slice(SESSION_COOKIE.length + 1).split('.')
    expect(sessions.valid(`${SESSION_COOKIE}=${Number(expires) + 3600}.${mac}`, TOKEN, now)).toBe(false)
    expect(sessions.valid(`${SESSION_COOKIE}=${expires}.x${mac!.slice(1)}`, TOKEN, now)).toBe(false)
    expect(sessions.valid(`${SESSION_COOKIE}=${expires}`, TOKEN, now)).toBe(false)
    expect(sessions.valid(`${SESSION_COOKIE}=${TOKEN}`, TOKEN, now)).toBe(false)
    expect(sessions.valid(null, TOKEN, now)).toBe(false)
  })

  test('bearerMatches wants the Bearer scheme and the exact token', () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true)
    expect(bearerMatches(TOKEN, TOKEN)).toBe(false)
    expect(bearerMatches(`Bearer ${TOKEN}x`, TOKEN)).toBe(false)
    expect(bearerMatches(null, TOKEN)).toBe(false)
  })
})
