import { describe, expect, test } from 'bun:test'
import { errors as joseErrors, SignJWT } from 'jose'
import type { RouteAuthConfig } from './schema.ts'
import { GatewayError } from '../../kernel/errors.ts'
import { Exchange } from '../../kernel/exchange.ts'
import { testRoute } from '../../../test/fixtures/exchange.ts'
import { jwtAuth, type KeySource } from './jwt.ts'

const SECRET = new TextEncoder().encode('a-unit-test-secret-of-32-bytes-or-more')
const route = testRoute({ name: 'api', path: '/api' })
const config = (over: Partial<NonNullable<RouteAuthConfig['jwt']>> = {}): NonNullable<RouteAuthConfig['jwt']> => ({
  algorithms: ['HS256'],
  secret: 'unused: the tests pass their own keys',
  jwksRefreshSeconds: 300,
  clockSkewSeconds: 0,
  maxTokenBytes: 8192,
  forwardCredential: false,
  cacheSeconds: 60,
  requireExp: true,
  ...over,
})

/** A key source that counts signature checks and can be made to drop its key. */
function countingKeys() {
  const state = { checks: 0, generation: 0, revoked: false }
  const source: KeySource = {
    key: async () => {
      state.checks++
      if (state.revoked) throw new joseErrors.JWKSNoMatchingKey()
      return SECRET
    },
    get generation() {
      return state.generation
    },
  }
  return { state, source }
}

const token = (exp = true) => {
  const jwt = new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'HS256' })
  return (exp ? jwt.setExpirationTime('1h') : jwt).sign(SECRET)
}

function exchangeWith(bearer: string): Exchange {
  const url = 'http://gw.example/api/x'
  const trust = { isTrusted: () => false, trustsProxies: false }
  return new Exchange(new Request(url, { headers: { authorization: `Bearer ${bearer}` } }), url, undefined, route, '/api/x', '', 'rid', trust)
}

/** The status the middleware answers `bearer` with. */
async function statusOf(middleware: ReturnType<typeof jwtAuth>, bearer: string): Promise<number> {
  try {
    return (await middleware(exchangeWith(bearer), () => new Response('ok'))).status
  } catch (err) {
    if (err instanceof GatewayError) return err.status
    throw err
  }
}

describe('jwtAuth', () => {
  test('a verified token is reused for cacheSeconds, then checked again', async () => {
    const { state, source } = countingKeys()
    let now = Date.now()
    const auth = jwtAuth(config({ cacheSeconds: 60 }), 'x-consumer', { keys: source, now: () => now })
    const bearer = await token()
    expect(await statusOf(auth, bearer)).toBe(200)
    expect(await statusOf(auth, bearer)).toBe(200)
    expect(state.checks).toBe(1)
    now += 59_000
    expect(await statusOf(auth, bearer)).toBe(200)
    expect(state.checks).toBe(1)
    now += 2000
    expect(await statusOf(auth, bearer)).toBe(200)
    expect(state.checks).toBe(2)
  })

  test('cacheSeconds 0 checks every request', async () => {
    const { state, source } = countingKeys()
    const auth = jwtAuth(config({ cacheSeconds: 0 }), 'x-consumer', { keys: source })
    const bearer = await token()
    for (let i = 0; i < 3; i++) expect(await statusOf(auth, bearer)).toBe(200)
    expect(state.checks).toBe(3)
  })

  test('a key set that loses a key revokes what was verified before', async () => {
    const { state, source } = countingKeys()
    const auth = jwtAuth(config(), 'x-consumer', { keys: source })
    const bearer = await token()
    expect(await statusOf(auth, bearer)).toBe(200)
    expect(await statusOf(auth, bearer)).toBe(200)
    expect(state.checks).toBe(1)
    state.revoked = true
    state.generation++
    expect(await statusOf(auth, bearer)).toBe(401)
    expect(state.checks).toBe(2)
  })

  test('a verification that finishes after the key set changed is not remembered', async () => {
    const { state, source } = countingKeys()
    const auth = jwtAuth(config(), 'x-consumer', { keys: source })
    const bearer = await token()
    const other = await new SignJWT({ sub: 'bob' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(SECRET)
    // The check is under way (jose awaits the key) when the set changes, and another request
    // sees the change (and forgets what was remembered) before that check ends.
    const pending = auth(exchangeWith(bearer), () => new Response('ok'))
    state.generation++
    const meanwhile = auth(exchangeWith(other), () => new Response('ok'))
    expect((await pending).status).toBe(200)
    expect((await meanwhile).status).toBe(200)
    state.revoked = true
    expect(await statusOf(auth, bearer)).toBe(401)
  })

  test('a token without exp is refused unless requireExp is false', async () => {
    const { source } = countingKeys()
    const bearer = await token(false)
    expect(await statusOf(jwtAuth(config(), 'x-consumer', { keys: source }), bearer)).toBe(401)
    expect(await statusOf(jwtAuth(config({ requireExp: false }), 'x-consumer', { keys: source }), bearer)).toBe(200)
  })
})
