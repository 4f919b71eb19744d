/**
 * The Standard Schema interface (standardschema.dev, v1): what zod 4, valibot, arktype and
 * others implement, so a plugin's config schema can come from any of them. Types only,
 * copied from the spec (it asks implementers to copy rather than depend).
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaV1.Props<Input, Output>
}

export declare namespace StandardSchemaV1 {
  export interface Props<Input = unknown, Output = Input> {
    readonly version: 1
    readonly vendor: string
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>
    readonly types?: Types<Input, Output> | undefined
  }
  export type Result<Output> = SuccessResult<Output> | FailureResult
  export interface SuccessResult<Output> {
    readonly value: Output
    readonly issues?: undefined
  }
  export interface FailureResult {
    readonly issues: ReadonlyArray<Issue>
  }
  export interface Issue {
    readonly message: string
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined
  }
  export interface PathSegment {
    readonly key: PropertyKey
  }
  export interface Types<Input = unknown, Output = Input> {
    readonly input: Input
    readonly output: Output
  }
  export type InferOutput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['output']
}

/** Issues as `path: message` lines, `prefix` before each path (`plugins.tenant.config`). */
export function formatIssues(issues: ReadonlyArray<StandardSchemaV1.Issue>, prefix: string): string[] {
  return issues.map((issue) => {
    const segments = (issue.path ?? []).map((segment) => String(typeof segment === 'object' ? segment.key : segment))
    const path = segments.reduce((at, segment) => (/^\d+$/.test(segment) ? `${at}[${segment}]` : `${at}.${segment}`), prefix)
    return `${path}: ${issue.message}`
  })
}
