/**
 * Content-coding negotiation (RFC 9110 §12.5.3): which of the offered codings answers an
 * Accept-Encoding, or identity. Built per route at boot; a request pays a Map lookup, since
 * clients send a handful of distinct values (browsers, curl, HTTP libraries).
 */
import type { Coding } from './schema.ts'

export type Negotiated = Coding | 'identity'

/** How many distinct Accept-Encoding values a negotiator remembers before it starts over. */
const MEMO_SIZE = 256

/** A qvalue: 0 to 1 with at most three decimals (RFC 9110 §12.4.2). */
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/

/**
 * The coding to answer `acceptEncoding` with, from `offered` (the server's order of preference):
 * the one with the highest q; equal q-values go to the earlier in `offered`. `*` stands for any
 * coding the field does not name, identity included; q=0 refuses (§12.4.2). identity wins when
 * the client gives it a higher q than any offered coding, and is the answer when nothing offered
 * is acceptable (the server may then send it anyway, §12.5.3) and when there is no field at
 * all: RFC 9110 lets a server pick any coding then, but nginx, Caddy and Traefik do not
 * compress for a client that did not ask.
 */
export function negotiate(acceptEncoding: string | null, offered: readonly Coding[]): Negotiated {
  if (acceptEncoding === null) return 'identity'
  const q = new Map<string, number>()
  for (const element of acceptEncoding.split(',')) {
    const parts = element.split(';')
    let coding = parts[0]!.trim().toLowerCase()
    if (coding === '') continue
    // §8.4.1.3: "x-gzip" is gzip.
    if (coding === 'x-gzip') coding = 'gzip'
    let weight = 1
    let malformed = false
    for (let i = 1; i < parts.length; i++) {
      const param = parts[i]!.trim()
      const eq = param.indexOf('=')
      if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'q') continue
      const value = param.slice(eq + 1).trim()
      if (!QVALUE.test(value)) malformed = true
      else weight = Number(value)
    }
    // A malformed element is ignored rather than guessed at.
    if (malformed) continue
    // A coding named twice keeps its lowest weight: a refusal is never overridden.
    const known = q.get(coding)
    q.set(coding, known === undefined ? weight : Math.min(known, weight))
  }
  const star = q.get('*')
  let best: Negotiated = 'identity'
  let bestWeight = 0
  for (const coding of offered) {
    const weight = q.get(coding) ?? star ?? 0
    if (weight > bestWeight) {
      best = coding
      bestWeight = weight
    }
  }
  // identity is acceptable unless refused by name, or by *;q=0 without naming it (§12.5.3);
  // unnamed (and no *), it is acceptable but preferred to nothing the client named.
  const identity = q.get('identity') ?? star ?? Number.MIN_VALUE
  return identity > bestWeight ? 'identity' : best
}

/** `negotiate` for one route's offer, remembering recent answers. */
export function negotiator(
  offered: readonly Coding[]
): (acceptEncoding: string | null) => Negotiated {
  const memo = new Map<string, Negotiated>()
  return function negotiated(acceptEncoding) {
    if (acceptEncoding === null) return 'identity'
    let coding = memo.get(acceptEncoding)
    if (coding === undefined) {
      coding = negotiate(acceptEncoding, offered)
      // Bounded: a client sending a new value each time costs a parse, never memory.
      if (memo.size >= MEMO_SIZE) memo.clear()
      memo.set(acceptEncoding, coding)
    }
    return coding
  }
}
