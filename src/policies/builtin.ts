/**
 * How a built-in policy is written: the kernel's Policy, with its config schema kept as the
 * zod type it is, so config/ can add its key to the route schema with its exact type.
 */
import type { z } from 'zod'
import type { BuildContext, CheckContext, Phase, Settings } from '../kernel/policy.ts'
import type { Stage } from '../kernel/stage.ts'

type ConfigOf<Schema> = Schema extends z.ZodType ? z.output<Schema> : undefined

export interface BuiltinPolicy<Name extends string = string, Schema extends z.ZodType | undefined = z.ZodType | undefined> {
  /** Also its key on a route. */
  readonly name: Name
  readonly phase: Phase
  /** The route key's schema; undefined: the policy has no key of its own (limits). */
  readonly schema: Schema
  /** Checks the schema cannot make: `field: problem` lines, relative to the route key. */
  check?(config: ConfigOf<Schema>, context: CheckContext): string[]
  /** Checks of the top-level settings the policy owns (`consumers`), once per load: `field: problem`, from the top. */
  checkSettings?(settings: Settings): string[]
  build(config: ConfigOf<Schema>, context: BuildContext): Stage | undefined
}

export function defineBuiltin<const Name extends string, Schema extends z.ZodType | undefined = undefined>(policy: {
  name: Name
  phase: Phase
  schema?: Schema
  check?(config: ConfigOf<Schema>, context: CheckContext): string[]
  checkSettings?(settings: Settings): string[]
  build(config: ConfigOf<Schema>, context: BuildContext): Stage | undefined
}): BuiltinPolicy<Name, Schema> {
  return { schema: undefined, ...policy } as BuiltinPolicy<Name, Schema>
}
