/**
 * A route's header rules (`requestHeaders`, `responseHeaders`): remove, then set, then add;
 * names are lower-cased by the config. Request rules run last when the upstream request is
 * built (forwarding.ts), so they see the forwarding headers.
 */
/** Header rules of one direction (the config's `requestHeaders` / `responseHeaders`). */
export interface HeaderRules {
  readonly add: Readonly<Record<string, string>>
  readonly set: Readonly<Record<string, string>>
  readonly remove: readonly string[]
}

/** What header rules change: a response's Headers, or the fields sent upstream (kernel/fields.ts). */
export interface MutableFields {
  delete(name: string): void
  set(name: string, value: string): void
  append(name: string, value: string): void
}

export function applyHeaderRules(headers: MutableFields, rules: HeaderRules): void {
  for (const name of rules.remove) headers.delete(name)
  for (const name in rules.set) headers.set(name, rules.set[name]!)
  for (const name in rules.add) headers.append(name, rules.add[name]!)
}

/** The value of `name` after `rules`, given its value before (null when absent). */
export function ruledValue(name: string, before: string | null, rules: HeaderRules): string | null {
  let value = rules.remove.includes(name) ? null : before
  if (Object.hasOwn(rules.set, name)) value = rules.set[name]!
  if (Object.hasOwn(rules.add, name)) value = value === null ? rules.add[name]! : `${value}, ${rules.add[name]}`
  return value
}
