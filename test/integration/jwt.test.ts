/**
 * Bearer JWT routes against a real gateway: RS256 from a PEM file, HS256 from an env secret,
 * ES256 from a JWKS URL that rotates (a removed key revokes the tokens already verified with
 * it). Every refusal is the same small 401; nothing refused reaches the upstream.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK } from 'jose'
import { expectCleanOutput, startGateway, waitFor, type GatewayProcess } from '../fixtures/gateway.ts'
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/upstream.ts'

const SECRET = 'an-hs256-secret-of-at-least-32-bytes!'
const ISSUER = 'https://issuer.example'

let upstream: RecordingUpstream
let gw: GatewayProcess
let rsa: { publicKey: CryptoKey; privateKey: CryptoKey }
let pem: string
let jwksServer: Bun.Server<undefined>
let jwks: { keys: JWK[] }
const ec: Record<string, { privateKey: CryptoKey; jwk: JWK }> = {}

async function ecKey(kid: string) {
  const pair = await generateKeyPair('ES256', { extractable: true })
  ec[kid] = { privateKey: pair.privateKey, jwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig' } }
}

const now = () => Math.floor(Date.now() / 1000)
function rs(claims: Record<string, unknown> = {}, alg = 'RS256') {
  return new SignJWT({ sub: 'alice', iss: ISSUER, aud: 'api', exp: now() + 600, ...claims }).setProtectedHeader({ alg }).sign(rsa.privateKey)
}

beforeAll(async () => {
  upstream = startRecordingUpstream()
  rsa = await generateKeyPair('RS256', { extractable: true })
  pem = await exportSPKI(rsa.publicKey)
  const dir = mkdtempSync(join(tmpdir(), 'gw-jwt-'))
  const pemFile = join(dir, 'rs.pem')
  writeFileSync(pemFile, pem)
  await ecKey('k1')
  await ecKey('k2')
  jwks = { keys: [ec.k1!.jwk] }
  jwksServer = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => Response.json(jwks) })
  gw = await startGateway(
    {
      upstreams: { app: { targets: [upstream.origin] } },
      routes: [
        { path: '/rs', upstream: 'app', auth: { jwt: { algorithms: ['RS256'], publicKeyFile: pemFile, issuer: ISSUER, audience: 'api', clockSkewSeconds: 5 } } },
        { path: '/hs', upstream: 'app', auth: { jwt: { algorithms: ['HS256'], secret: 'env:GW_TEST_JWT_SECRET' } } },
        { path: '/hs-lax', upstream: 'app', auth: { jwt: { algorithms: ['HS256'], secret: 'env:GW_TEST_JWT_SECRET', requireExp: false } } },
        // failureLimit 0: the rotation test polls with tokens it expects refused until a refresh.
        { path: '/jwks', upstream: 'app', auth: { failureLimit: 0, jwt: { algorithms: ['ES256'], jwksUrl: `http://127.0.0.1:${jwksServer.port}/jwks.json`, jwksRefreshSeconds: 1 } } },
      ],
    },
    { GW_TEST_JWT_SECRET: SECRET }
  )
})

afterAll(async () => {
  expect(await gw.stop()).toBe(0)
  expectCleanOutput(gw.output())
  upstream.stop()
  jwksServer.stop(true)
})

const call = (path: string, token?: string) => fetch(gw.url(path), { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
const last = () => upstream.requests.at(-1)!

describe('JWT', () => {
  test('a valid token passes; sub is the consumer; Authorization does not go upstream', async () => {
    const token = await rs()
    for (let i = 0; i < 3; i++) {
      const res = await call('/rs/ok', token)
      expect(res.status).toBe(200)
    }
    expect(last().headers['x-consumer']).toBe('alice')
    expect(last().headers.authorization).toBeUndefined()
  })

  test('refused with one 401 each: missing, expired, not yet valid, wrong audience, wrong issuer, none, HS/RS confusion, bad signature, oversized', async () => {
    const before = upstream.requests.length
    const missing = await call('/rs/x')
    expect(missing.status).toBe(401)
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="gateway"')
    const valid = await rs()
    const [head, payload] = valid.split('.')
    const tampered = `${head}.${Buffer.from(JSON.stringify({ sub: 'admin', iss: ISSUER, aud: 'api', exp: now() + 600 })).toString('base64url')}.${valid.split('.')[2]}`
    const bad: Record<string, string> = {
      expired: await rs({ exp: now() - 60 }),
      'not yet valid': await rs({ nbf: now() + 600 }),
      'wrong audience': await rs({ aud: 'other' }),
      'wrong issuer': await rs({ iss: 'https://evil.example' }),
      'alg none': new UnsecuredJWT({ sub: 'alice', iss: ISSUER, aud: 'api', exp: now() + 600 }).encode(),
      // The classic confusion: HMAC keyed with the (public) PEM the route verifies RS256 with.
      'HS256 signed with the public key': await new SignJWT({ sub: 'alice', iss: ISSUER, aud: 'api', exp: now() + 600 })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode(pem)),
      'bad signature': tampered,
      'no sub': await new SignJWT({ iss: ISSUER, aud: 'api', exp: now() + 600 }).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey),
      oversized: await rs({ pad: 'x'.repeat(9000) }),
      garbage: 'not.a.jwt',
    }
    expect(payload).toBeTruthy()
    for (const [name, token] of Object.entries(bad)) {
      const res = await call('/rs/x', token)
      expect([name, res.status]).toEqual([name, 401])
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="gateway", error="invalid_token"')
      expect(((await res.json()) as { error: string }).error).toBe('unauthorized')
    }
    expect(upstream.requests.length).toBe(before)
  })

  test('HS256 with a secret from the environment', async () => {
    const token = await new SignJWT({ sub: 'svc-batch' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode(SECRET))
    expect((await call('/hs/y', token)).status).toBe(200)
    expect(last().headers['x-consumer']).toBe('svc-batch')
    const other = await new SignJWT({ sub: 'svc-batch' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode(`${SECRET}x`))
    expect((await call('/hs/y', other)).status).toBe(401)
  })

  test('a token without exp is refused by default (the same 401), and accepted with requireExp: false', async () => {
    const forever = await new SignJWT({ sub: 'svc-forever' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
    const refused = await call('/hs/y', forever)
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="gateway", error="invalid_token"')
    expect(((await refused.json()) as { error: string }).error).toBe('unauthorized')
    expect((await call('/hs-lax/y', forever)).status).toBe(200)
    expect(last().headers['x-consumer']).toBe('svc-forever')
  })

  test('JWKS rotation: a new key is picked up in the background, a removed one stops working', async () => {
    const sign = (kid: string) => new SignJWT({ sub: `user-${kid}` }).setProtectedHeader({ alg: 'ES256', kid }).setExpirationTime('5m').sign(ec[kid]!.privateKey)
    const one = await sign('k1')
    await waitFor(async () => (await call('/jwks/a', one)).status === 200, 5000, 'the first JWKS fetch')
    expect(last().headers['x-consumer']).toBe('user-k1')
    // Seen and verified: from here on the worker answers it from memory.
    expect((await call('/jwks/a', one)).status).toBe(200)
    const two = await sign('k2')
    expect((await call('/jwks/a', two)).status).toBe(401)
    jwks = { keys: [ec.k2!.jwk] }
    await waitFor(async () => (await call('/jwks/a', two)).status === 200, 5000, 'the rotated key')
    // The token verified before the refresh is refused too: its key left the set (not cached until exp).
    await waitFor(async () => (await call('/jwks/a', one)).status === 401, 5000, 'the removed key to revoke its token')
    // A token never verified before, signed with the removed key, is refused.
    const oneAgain = await new SignJWT({ sub: 'user-k1b' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setExpirationTime('5m').sign(ec.k1!.privateKey)
    expect((await call('/jwks/a', oneAgain)).status).toBe(401)
  }, 15_000)
})
