import { describe, expect, it } from 'vitest'
import { atNextFree, bookingRequest, preview, type BookingForm } from './booking'
import { toLocalInput } from './format'

const local = (iso: string) => toLocalInput(new Date(iso))
const form = (over: Partial<BookingForm> = {}): BookingForm => ({
  name: '',
  asap: false,
  start: local('2026-11-21T14:30:00Z'),
  end: local('2026-11-21T15:30:00Z'),
  repeat: false,
  cron: '',
  duration: '',
  ...over,
})

describe('bookingRequest', () => {
  it('sends UTC instants and leaves out what is empty', () => {
    expect(bookingRequest(form({ duration: '60' }))).toEqual({
      mode: 1,
      start: '2026-11-21T14:30:00.000Z',
      end: '2026-11-21T15:30:00.000Z',
      duration_seconds: 60,
    })
    expect(bookingRequest(form({ name: ' nightly ', repeat: true, cron: '0-2 30 14 21 11 *' }))).toMatchObject({
      name: 'nightly',
      cron: '0-2 30 14 21 11 *',
    })
    expect(bookingRequest(form({ asap: true, repeat: true, cron: '* * * * *' })).cron).toBeUndefined()
    expect(bookingRequest(form({ asap: true })).mode).toBe(0)
  })
})

describe('atNextFree', () => {
  const plan = { workflow_id: 'w', windows: [{ start: '', end: '' }], conflicts: [], warnings: [], next_free: '2026-11-21T14:31:05Z' }
  it('moves the start and keeps the span', () => {
    const f = atNextFree(form(), plan)
    expect(bookingRequest(f)).toMatchObject({ start: '2026-11-21T14:31:05.000Z', end: '2026-11-21T15:31:05.000Z' })
  })
  it('moves a one-firing cron with it', () => {
    const f = atNextFree(form({ repeat: true, cron: '0 30 14 21 11 *' }), plan)
    expect(f.cron).toBe('5 31 14 21 11 *')
  })
  it('changes nothing without a free slot', () => {
    const f = form()
    expect(atNextFree(f, { ...plan, next_free: undefined })).toBe(f)
  })
})

describe('preview', () => {
  it('lists the firings between start and end', () => {
    const p = preview(form({ repeat: true, cron: '0-2 30 14 21 11 *' }))
    expect(p.firings.map((d) => d.toISOString())).toEqual([
      '2026-11-21T14:30:00.000Z',
      '2026-11-21T14:30:01.000Z',
      '2026-11-21T14:30:02.000Z',
    ])
  })
  it('says why an expression is wrong', () => {
    expect(preview(form({ repeat: true, cron: '61 * * * *' })).error).toMatch(/minutes/)
  })
})
