import { expect, test } from 'bun:test'
import { createHttpsRedirect } from './https-redirect.ts'

const request = (host: string, target = '/p?q=1') => new Request(`http://ignored${target}`, { headers: { host } })

test('a gateway whose every route names a host redirects only those hosts', async () => {
  const redirect = createHttpsRedirect(8443, ['api.example', 'WWW.example'])
  expect(redirect(request('www.example.')).headers.get('location')).toBe('https://www.example:8443/p?q=1')
  const refused = redirect(request('evil.example'))
  expect(refused.status).toBe(404)
  expect(await refused.json()).toMatchObject({ error: 'not_found' })
})

test('with a route for any host, any valid host is redirected, on 443 without a port', () => {
  const redirect = createHttpsRedirect(443, ['api.example', undefined])
  expect(redirect(request('Other.example:80')).headers.get('location')).toBe('https://other.example/p?q=1')
  expect(redirect(request('a@evil.example')).status).toBe(400)
})
