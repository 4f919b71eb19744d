/**
 * `bun-gateway validate FILE...`: loads each file exactly as the start does (the env
 * overrides, the schema, the cross-field and file checks, the plugins in a child process)
 * and reports in the start's words, without listening on anything (nginx -t, caddy validate).
 */
import type { EnvSettings } from '../config/env.ts'
import { fileSource, invalidConfigLines } from '../config/source.ts'
import { EXIT_BAD_CONFIG } from '../main.ts'
import type { PrintFormat } from './args.ts'
import { formatConfig } from './printable.ts'

export const EXIT_OK = 0

export interface ValidateOptions {
  files: readonly string[]
  print?: PrintFormat
  overrides: EnvSettings['overrides']
  out: (text: string) => void
  err: (text: string) => void
}

/** Every file is checked, bad ones or not; the exit status is 2 when any is bad. */
export async function validate(options: ValidateOptions): Promise<number> {
  let status = EXIT_OK
  for (const file of options.files) {
    const source = fileSource(file, options.overrides)
    const result = await source.load()
    if (!result.ok) {
      options.err(`${invalidConfigLines(source, result.errors).join('\n')}\n`)
      status = EXIT_BAD_CONFIG
    } else if (options.print) {
      // stdout carries the config alone, so it can be piped.
      options.out(formatConfig(result.config, options.print))
      options.err(`${file}: ok\n`)
    } else {
      options.out(`${file}: ok\n`)
    }
  }
  return status
}
