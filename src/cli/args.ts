/** The `bun-gateway` command line: which command, with what. No I/O here. */

export type PrintFormat = 'yaml' | 'json'

export type Command =
  /** `start` and the hidden `--worker`: main.ts's own arguments, passed through. */
  | { name: 'start'; argv: string[] }
  | { name: 'validate'; files: string[]; print?: PrintFormat }
  | { name: 'schema' }
  | { name: 'version' }
  | { name: 'help' }
  | { name: 'usage'; problem: string }

export const USAGE = `usage: bun-gateway <command> [options]

commands:
  start [--config FILE] [--single-process]
        run the gateway (what \`bun run start\` does); GATEWAY_CONFIG=FILE works too,
        and without a file it serves the embedded demo
  validate [FILE...] [--print[=yaml|json]]
        check config files as start would (schema, cross-field checks, files, plugins)
        with the same env overrides, every error at once; exit 0 ("FILE: ok") or 2.
        --print writes the config with every default filled in (secrets <redacted>)
  schema
        print the config's JSON Schema (for editor completion)
  --version, -v
        print the version
  --help, -h
        print this help`

export const START_USAGE = 'usage: bun-gateway start [--config FILE] [--single-process]   (or GATEWAY_CONFIG=FILE)'

/** Reads `argv` (after the script); `configPath` is GATEWAY_CONFIG, validated when no file is named. */
export function parseCommand(argv: readonly string[], configPath?: string): Command {
  const [first, ...rest] = argv
  switch (first) {
    case undefined:
      return { name: 'usage', problem: 'no command given' }
    case 'start':
      return { name: 'start', argv: rest }
    // The primary starts its workers as `<Bun.main> --worker`: Bun.main is this file under `bun-gateway start`.
    case '--worker':
      return { name: 'start', argv: [...argv] }
    case 'validate':
      return parseValidate(rest, configPath)
    case 'schema':
      return rest.length === 0 ? { name: 'schema' } : { name: 'usage', problem: `schema takes no arguments: ${rest[0]}` }
    case 'version':
    case '--version':
    case '-v':
      return { name: 'version' }
    case 'help':
    case '--help':
    case '-h':
      return { name: 'help' }
    default:
      return { name: 'usage', problem: `unknown command: ${first}` }
  }
}

function parseValidate(argv: readonly string[], configPath: string | undefined): Command {
  const files: string[] = []
  let print: PrintFormat | undefined
  for (const arg of argv) {
    if (arg === '--print' || arg === '--print=yaml') print = 'yaml'
    else if (arg === '--print=json') print = 'json'
    else if (arg === '--help' || arg === '-h') return { name: 'help' }
    else if (arg.startsWith('-')) return { name: 'usage', problem: `unknown option for validate: ${arg}` }
    else files.push(arg)
  }
  if (files.length === 0 && configPath !== undefined) files.push(configPath)
  if (files.length === 0) return { name: 'usage', problem: 'validate needs a FILE (or GATEWAY_CONFIG)' }
  if (print && files.length > 1) return { name: 'usage', problem: '--print takes one FILE' }
  return print ? { name: 'validate', files, print } : { name: 'validate', files }
}
