import { describe, expect, it } from 'vitest'
import { bytes, duration, fromLocalInput, toLocalInput, when } from './format'

describe('format', () => {
  it('round-trips a datetime-local value, seconds kept', () => {
    const d = new Date(2026, 10, 21, 14, 30, 5)
    expect(toLocalInput(d)).toBe('2026-11-21T14:30:05')
    expect(fromLocalInput(toLocalInput(d))?.getTime()).toBe(d.getTime())
    expect(fromLocalInput('')).toBeUndefined()
  })
  it('names the time zone', () => {
    expect(when('2026-11-21T14:30:05Z')).toMatch(/\d{2}:\d{2}:\d{2}.*\S/)
    expect(when('0001-01-01T00:00:00Z')).toBe('—')
    expect(when(undefined)).toBe('—')
  })
  it('shows sizes and durations', () => {
    expect(bytes(64 << 20)).toBe('64 MiB')
    expect(bytes(1536)).toBe('1.5 KiB')
    expect(duration('2026-01-01T00:00:00Z', '2026-01-01T00:01:05Z')).toBe('1 min 5 s')
  })
})
