import { describe, expect, test } from 'bun:test'
import { parseCommand } from './args.ts'

describe('parseCommand', () => {
  test('start passes its arguments through to main.ts', () => {
    expect(parseCommand(['start', '--config', 'g.yaml', '--single-process'])).toEqual({ name: 'start', argv: ['--config', 'g.yaml', '--single-process'] })
  })

  test('--worker (how the primary starts its workers from Bun.main) is the start path', () => {
    expect(parseCommand(['--worker'])).toEqual({ name: 'start', argv: ['--worker'] })
  })

  test('validate takes files, --print and --print=json, and falls back to GATEWAY_CONFIG', () => {
    expect(parseCommand(['validate', 'a.yaml', 'b.json'])).toEqual({ name: 'validate', files: ['a.yaml', 'b.json'] })
    expect(parseCommand(['validate', '--print', 'a.yaml'])).toEqual({ name: 'validate', files: ['a.yaml'], print: 'yaml' })
    expect(parseCommand(['validate', 'a.yaml', '--print=json'])).toEqual({ name: 'validate', files: ['a.yaml'], print: 'json' })
    expect(parseCommand(['validate'], 'env.yaml')).toEqual({ name: 'validate', files: ['env.yaml'] })
  })

  test('says what is wrong with a command line', () => {
    expect(parseCommand([])).toEqual({ name: 'usage', problem: 'no command given' })
    expect(parseCommand(['serve'])).toEqual({ name: 'usage', problem: 'unknown command: serve' })
    expect(parseCommand(['validate'])).toEqual({ name: 'usage', problem: 'validate needs a FILE (or GATEWAY_CONFIG)' })
    expect(parseCommand(['validate', '--strict', 'a.yaml'])).toEqual({ name: 'usage', problem: 'unknown option for validate: --strict' })
    expect(parseCommand(['validate', '--print', 'a.yaml', 'b.yaml'])).toEqual({ name: 'usage', problem: '--print takes one FILE' })
    expect(parseCommand(['schema', 'x'])).toEqual({ name: 'usage', problem: 'schema takes no arguments: x' })
  })

  test('version and help, in the usual spellings', () => {
    for (const arg of ['--version', '-v', 'version']) expect(parseCommand([arg])).toEqual({ name: 'version' })
    for (const arg of ['--help', '-h', 'help']) expect(parseCommand([arg])).toEqual({ name: 'help' })
  })
})
