import { describe, expect, test } from 'bun:test'
import { queryRedactor, redactQuery } from './redact.ts'

describe('redactQuery', () => {
  test.each([
    ['', ''],
    ['?', '?'],
    ['?page=2&sort=asc', '?page=2&sort=asc'],
    ['?token=abc&page=2', '?token=REDACTED&page=2'],
    ['?access_token=a&refresh_token=b', '?access_token=REDACTED&refresh_token=REDACTED'],
    ['?api_key=a&apikey=b&key=c', '?api_key=REDACTED&apikey=REDACTED&key=REDACTED'],
    ['?password=a&passwd=b&pwd=c&client_secret=d', '?password=REDACTED&passwd=REDACTED&pwd=REDACTED&client_secret=REDACTED'],
    ['?sig=a&X-Amz-Signature=b&session_id=c&jwt=d&code=e', '?sig=REDACTED&X-Amz-Signature=REDACTED&session_id=REDACTED&jwt=REDACTED&code=REDACTED'],
    ['?Api%5FKey=a', '?Api%5FKey=REDACTED'],
    ['?flag&token', '?flag&token'],
    ['?zipcode=12345', '?zipcode=12345'],
  ])('%p → %p', (query, expected) => {
    expect(redactQuery(query)).toBe(expected)
  })
})

describe('queryRedactor', () => {
  const redact = queryRedactor(['k', 'Partner'])
  test.each([
    ['?k=s3cret&page=2', '?k=REDACTED&page=2'],
    ['?K=s3cret', '?K=REDACTED'],
    ['?%6B=s3cret', '?%6B=REDACTED'],
    ['?partner=s3cret&token=t', '?partner=REDACTED&token=REDACTED'],
    ['?kk=1&k', '?kk=1&k'],
  ])('configured names too: %p → %p', (query, expected) => {
    expect(redact(query)).toBe(expected)
  })
})
