import { describe as group, expect, it } from 'vitest'
import { at, CronError, describe, firings, next, parse } from './cron'

const iso = (d: Date | undefined) => d?.toISOString()

group('next', () => {
  it.each([
    // [expression, after, next firing]
    ['0-10 30 14 21 11 *', '2026-11-01T00:00:00Z', '2026-11-21T14:30:00.000Z'],
    ['0-10 30 14 21 11 *', '2026-11-21T14:30:04Z', '2026-11-21T14:30:05.000Z'],
    ['0-10 30 14 21 11 *', '2026-11-21T14:30:10Z', '2027-11-21T14:30:00.000Z'],
    ['*/15 * * * *', '2026-01-01T10:07:30Z', '2026-01-01T10:15:00.000Z'],
    ['0 0 29 2 *', '2026-03-01T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['@hourly', '2026-05-05T05:59:59Z', '2026-05-05T06:00:00.000Z'],
    ['0 12 * * mon-fri', '2026-12-05T13:00:00Z', '2026-12-07T12:00:00.000Z'], // Saturday → Monday
    ['30 9 1 jan,jul *', '2026-02-01T00:00:00Z', '2026-07-01T09:30:00.000Z'],
  ])('%s after %s is %s', (expr, after, want) => {
    expect(iso(next(parse(expr), new Date(after)))).toBe(want)
  })

  it('fires on either day when both day fields are restricted, as cron does', () => {
    // The 13th, or a Friday: 2026-02-06 is a Friday before the 13th.
    expect(iso(next(parse('0 0 13 * 5'), new Date('2026-02-01T00:00:00Z')))).toBe('2026-02-06T00:00:00.000Z')
    // Only the weekday restricted: Fridays only.
    expect(iso(next(parse('0 0 * * 5'), new Date('2026-02-07T00:00:00Z')))).toBe('2026-02-13T00:00:00.000Z')
  })

  it('gives up on a day that never comes', () => {
    expect(next(parse('0 0 31 2 *'), new Date('2026-01-01T00:00:00Z'))).toBeUndefined()
  })
})

group('firings', () => {
  it('counts the start second, as the scheduler does, and stops at the end', () => {
    const s = parse('0-2 30 14 21 11 *')
    const got = firings(s, new Date('2026-11-21T14:30:00.400Z'), new Date('2026-11-22T00:00:00Z'), 10)
    expect(got.map(iso)).toEqual(['2026-11-21T14:30:00.000Z', '2026-11-21T14:30:01.000Z', '2026-11-21T14:30:02.000Z'])
    expect(firings(s, new Date('2026-11-21T14:30:00Z'), undefined, 2)).toHaveLength(2)
  })
})

group('parse', () => {
  it.each([
    ['* * *', /expected 5 fields/],
    ['60 * * * *', /minutes: 60-60 is beyond 0-59/],
    ['* * * * 8', /day of week/],
    ['*/0 * * * *', /step "0"/],
    ['5-1 * * * *', /5 is after 1/],
    ['x * * * *', /"x" is not a number/],
    ['@reboot', /unknown descriptor/],
  ])('refuses %j', (expr, msg) => {
    expect(() => parse(expr)).toThrow(CronError)
    expect(() => parse(expr)).toThrow(msg)
  })
})

group('describe', () => {
  it('reads seconds and says UTC', () => {
    const words = describe('0-10 30 14 21 11 *')
    expect(words).toMatch(/seconds 0 through 10 past the minute/i)
    expect(words).toMatch(/30 minutes past the hour, at 14:00/)
    expect(words).toMatch(/November/)
    expect(words).toMatch(/\(UTC\)$/)
  })
  it('reads descriptors', () => {
    expect(describe('@daily')).toMatch(/00:00/)
  })
})

group('at', () => {
  it('is an expression firing at that very second', () => {
    const d = new Date('2026-11-21T14:30:05Z')
    expect(at(d)).toBe('5 30 14 21 11 *')
    expect(iso(next(parse(at(d)), new Date('2026-11-21T14:30:04Z')))).toBe('2026-11-21T14:30:05.000Z')
  })
})
