// The booking form and the request oc-scheduler takes.

import type { BookingRequest, Plan } from '../api/types'
import { at, firings, parse } from './cron'
import { fromLocalInput, toLocalInput } from './format'

export interface BookingForm {
  name: string
  asap: boolean
  /** start and end are datetime-local values, in the browser's time zone. */
  start: string
  end: string
  repeat: boolean
  cron: string
  duration: string
}

export function bookingRequest(f: BookingForm): BookingRequest {
  const req: BookingRequest = { mode: f.asap ? 0 : 1 }
  if (f.name.trim()) req.name = f.name.trim()
  const start = fromLocalInput(f.start)
  const end = fromLocalInput(f.end)
  if (start) req.start = start.toISOString()
  if (end) req.end = end.toISOString()
  if (!f.asap && f.repeat && f.cron.trim()) req.cron = f.cron.trim()
  const d = Number(f.duration)
  if (f.duration.trim() !== '' && Number.isFinite(d)) req.duration_seconds = Math.round(d)
  return req
}

/**
 * atNextFree moves the booking to the plan's next free slot: the start
 * goes there, and a cron that fired once follows it (one firing at that
 * second); the end keeps its distance from the start.
 */
export function atNextFree(f: BookingForm, plan: Plan): BookingForm {
  if (!plan.next_free) return f
  const free = new Date(plan.next_free)
  const start = fromLocalInput(f.start)
  const end = fromLocalInput(f.end)
  const next = { ...f, start: toLocalInput(free) }
  if (start && end) next.end = toLocalInput(new Date(free.getTime() + (end.getTime() - start.getTime())))
  if (f.repeat && (plan.windows?.length ?? 0) <= 1) next.cron = at(free)
  return next
}

/** preview is the first firings of the form's cron, or why it cannot say. */
export function preview(f: BookingForm, count = 5): { firings: Date[]; error?: string } {
  if (!f.repeat || !f.cron.trim()) return { firings: [] }
  const start = fromLocalInput(f.start) ?? new Date()
  try {
    return { firings: firings(parse(f.cron), start, fromLocalInput(f.end), count) }
  } catch (e) {
    return { firings: [], error: e instanceof Error ? e.message : String(e) }
  }
}
