#!/usr/bin/env bun
/**
 * The `bun-gateway` command (package.json `bin`): start, validate, schema, --version, --help.
 * `start` runs main.ts's start in this process, so Bun.main is this file and the workers it
 * spawns (`Bun.main --worker`) come back here as the hidden `--worker` command.
 */
import { parseCommand, START_USAGE, USAGE } from './cli/args.ts'
import { readEnv } from './config/env.ts'
import { EXIT_BAD_CONFIG, main } from './main.ts'
import { VERSION } from './version.ts'

const env = readEnv()
const command = parseCommand(Bun.argv.slice(2), env.configPath)
const out = (text: string) => void process.stdout.write(text)
const err = (text: string) => void process.stderr.write(text)

switch (command.name) {
  case 'start':
    await main(command.argv, START_USAGE)
    break
  // validate and schema load the config's modules; start's workers (`--worker`) need none of them.
  case 'validate':
    process.exitCode = await (await import('./cli/validate.ts')).validate({ files: command.files, print: command.print, overrides: env.overrides, out, err })
    break
  case 'schema':
    out((await import('./cli/json-schema.ts')).jsonSchemaText())
    break
  case 'version':
    out(`bun-gateway ${VERSION} (bun ${Bun.version})\n`)
    break
  case 'help':
    out(`${USAGE}\n`)
    break
  case 'usage':
    err(`${command.problem}\n${USAGE}\n`)
    process.exitCode = EXIT_BAD_CONFIG
}
