/**
 * HTTP-date (RFC 9110 §5.6.7), strictly: IMF-fixdate, and the obsolete RFC 850 and asctime
 * forms recipients must still accept. Anything else is invalid, which for Expires means
 * "already expired" (RFC 9111 §5.3): Date.parse would read "UTC" for "GMT", a missing comma
 * or a one-digit hour as a time in the future.
 */

const MONTHS = 'Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec'
const MONTH_INDEX = new Map(MONTHS.toLowerCase().split('|').map((name, i) => [name, i]))
// The grammar is case-sensitive, but a wrong-case name is unambiguous: accepting it is what
// the HTTP WG cache tests call optimal.
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) (${MONTHS}) (\\d{4}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`, 'i')
const RFC850_DATE = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-(${MONTHS})-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`, 'i')
const ASCTIME_DATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (${MONTHS}) ( \\d|\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) (\\d{4})$`, 'i')

function toTime(year: number, month: string, day: string, hour: string, minute: string, second: string): number {
  const [d, h, m, s] = [Number(day), Number(hour), Number(minute), Number(second)]
  if (d < 1 || d > 31 || h > 23 || m > 59 || s > 60) return Number.NaN
  return Date.UTC(year, MONTH_INDEX.get(month.toLowerCase())!, d, h, m, s)
}

/** Milliseconds since the epoch, or NaN when `value` is not an HTTP-date. */
export function parseHttpDate(value: string, now = Date.now()): number {
  let match = IMF_FIXDATE.exec(value)
  if (match) return toTime(Number(match[3]), match[2]!, match[1]!, match[4]!, match[5]!, match[6]!)
  match = RFC850_DATE.exec(value)
  if (match) {
    // A two-digit year more than 50 years ahead is the latest past year with those digits.
    const thisYear = new Date(now).getUTCFullYear()
    let year = Math.floor(thisYear / 100) * 100 + Number(match[3])
    if (year > thisYear + 50) year -= 100
    return toTime(year, match[2]!, match[1]!, match[4]!, match[5]!, match[6]!)
  }
  match = ASCTIME_DATE.exec(value)
  if (match) return toTime(Number(match[6]), match[1]!, match[2]!.trim(), match[3]!, match[4]!, match[5]!)
  return Number.NaN
}
