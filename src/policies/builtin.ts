/**
 * How a built-in policy is written: the kernel's Policy, with its config schema kept as the
 * zod type it is, so config/ can add its key to the route schema with its exact type.
 *
 * The schema is given as a function that loads its module (`schema.ts`) on first call: only
 * the config loader calls it. A worker builds chains from a config already checked, so it
 * never loads zod or builds a schema: ~10 MiB of its RSS after boot and ~19 MiB under load,
 * and ~150 ms of its start (Bun 1.4.5; docs/performance-optimization.md, the fifteenth session).
 */
import type { z } from 'zod'
import type { BuildContext, CheckContext, Phase, Settings } from '../kernel/policy.ts'
import type { Stage } from '../kernel/stage.ts'

type ConfigOf<Schema> = Schema extends z.ZodType ? z.output<Schema> : undefined

export interface BuiltinPolicy<Name extends string = string, Schema extends z.ZodType | undefined = z.ZodType | undefined> {
  /** Also its key on a route. */
  readonly name: Name
  readonly phase: Phase
  /**
   * The route key's schema, made on the first call (the same object after it); undefined: the
   * policy has no key of its own (limits).
   */
  readonly schema: (() => Schema) | undefined
  /** Checks the schema cannot make: `field: problem` lines, relative to the route key. */
  check?(config: ConfigOf<Schema>, context: CheckContext): string[]
  /** Checks of the top-level settings the policy owns (`consumers`), once per load: `field: problem`, from the top. */
  checkSettings?(settings: Settings): string[]
  build(config: ConfigOf<Schema>, context: BuildContext): Stage | undefined
}

export function defineBuiltin<const Name extends string, Schema extends z.ZodType | undefined = undefined>(policy: {
  name: Name
  phase: Phase
  /** Loads and returns the schema: `() => (require('./schema.ts') as typeof import('./schema.ts')).x` (a static import would load it in every worker). */
  schema?: () => Schema
  check?(config: ConfigOf<Schema>, context: CheckContext): string[]
  checkSettings?(settings: Settings): string[]
  build(config: ConfigOf<Schema>, context: BuildContext): Stage | undefined
}): BuiltinPolicy<Name, Schema> {
  const make = policy.schema
  let made: Schema | undefined
  return { ...policy, schema: make && (() => (made ??= make())) } as BuiltinPolicy<Name, Schema>
}
