/** The gateway's version, from package.json (for the build-info metric). */
import pkg from '../package.json' with { type: 'json' }

export const VERSION: string = pkg.version
