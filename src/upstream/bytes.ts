/** Byte helpers shared by the upstream layer. */

/** `parts` joined into one array (the only part itself when there is one). */
export function concatBytes(parts: readonly Uint8Array[], size?: number): Uint8Array {
  if (parts.length === 1) return parts[0]!
  let total = size ?? 0
  if (size === undefined) for (const part of parts) total += part.byteLength
  const out = new Uint8Array(total)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.byteLength
  }
  return out
}
