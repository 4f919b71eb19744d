/**
 * How the gateway runs itself again (its workers, the plugin check), from source
 * (`bun src/main.ts`) and from the binary `bun run build` makes (`bun build --compile`).
 * In the binary, process.execPath is the binary itself and every module lives in Bun's
 * embedded filesystem (/$bunfs/root), so there is no script to name on a command line:
 * the binary runs its own main with a flag that says which part to run.
 */

/** True inside a binary made by `bun build --compile`. */
export const COMPILED = import.meta.path.startsWith('/$bunfs/')

/**
 * The command line that runs `script` from source (`bun script flag`), or the binary's own
 * main with `flag`. Bun's runtime flags cannot go on a binary's command line (it passes every
 * argument to the program): give them to the child in BUN_OPTIONS (config/env.ts childEnv).
 */
export function selfCommand(script: string, flag: string): string[] {
  return COMPILED ? [process.execPath, flag] : [process.execPath, script, flag]
}
