import { useState } from 'react'
import { Link, useParams } from 'react-router'
import { api, ApiError } from '../api/client'
import type { Plan, Resource, Workflow } from '../api/types'
import { ErrorBox, Field, fieldErrors, Loading, Time, Title, Table } from '../components/ui'
import { atNextFree, bookingRequest, preview, type BookingForm } from '../lib/booking'
import { at, describe } from '../lib/cron'
import { localZone, refText, toLocalInput, when } from '../lib/format'
import { useAsync } from '../lib/useAsync'

function initial(): BookingForm {
  const start = new Date(Date.now() + 60_000)
  start.setMilliseconds(0)
  return { name: '', asap: false, start: toLocalInput(start), end: '', repeat: false, cron: '', duration: '' }
}

export default function Booking() {
  const { id = '' } = useParams()
  const wf = useAsync(async (signal) => {
    const w = await api.get<Workflow>(`/workflow/workflows/${id}`, undefined, signal)
    const ids = [...new Set((w.graph.nodes ?? []).flatMap((n) => (n.resource ? [n.resource.id] : [])))]
    const found = ids.length ? await api.post<{ items: Resource[] | null }>('/catalog/resources/lookup', { ids }, { signal }) : { items: [] }
    return { w, names: new Map((found.items ?? []).map((r) => [r.id, r.name])) }
  }, [id])
  const [form, setForm] = useState<BookingForm>(initial)
  const [plan, setPlan] = useState<{ plan: Plan; checked: boolean }>()
  const [booked, setBooked] = useState<Plan>()
  const [error, setError] = useState<unknown>()
  const [busy, setBusy] = useState(false)
  if (wf.loading && !wf.data) return <Loading />
  if (!wf.data) return <ErrorBox error={wf.error} />
  const { w, names } = wf.data
  const set = (patch: Partial<BookingForm>) => {
    setForm((f) => ({ ...f, ...patch }))
    setPlan(undefined)
  }
  const errors = fieldErrors(error)
  const firings = preview(form)
  let reading = ''
  if (form.repeat && form.cron.trim() && !firings.error) {
    try {
      reading = describe(form.cron)
    } catch {
      reading = ''
    }
  }

  const check = async (f = form) => {
    setBusy(true)
    setError(undefined)
    setBooked(undefined)
    try {
      setPlan({ plan: await api.post<Plan>(`/scheduler/${w.id}/check`, bookingRequest(f)), checked: true })
    } catch (e) {
      setError(e)
      setPlan(undefined)
    } finally {
      setBusy(false)
    }
  }
  const book = async (f = form) => {
    setBusy(true)
    setError(undefined)
    setBooked(undefined)
    try {
      const p = await api.post<Plan>(`/scheduler/${w.id}`, bookingRequest(f), { idempotent: true })
      setBooked(p)
      setPlan(undefined)
    } catch (e) {
      if (e instanceof ApiError && e.code === 'booking_conflict' && e.details) {
        setPlan({ plan: e.details as Plan, checked: false })
      } else setError(e)
    } finally {
      setBusy(false)
    }
  }
  const bookAtNextFree = async () => {
    if (!plan) return
    const f = atNextFree(form, plan.plan)
    setForm(f)
    await book(f)
  }
  const name = (r: { peer?: string; id: string }) => names.get(r.id) ?? refText(r)
  const conflicts = plan?.plan.conflicts ?? []

  return (
    <>
      <Title>{`Book ${w.name}`}</Title>
      <p>
        <Link to={`/workflows/${w.id}`}>Back to the editor</Link>
      </p>
      <form className="panel" noValidate onSubmit={(e) => (e.preventDefault(), void book())}>
        {error !== undefined && Object.keys(errors).length === 0 && <ErrorBox error={error} />}
        {Object.keys(errors).length > 0 && (
          <p className="alert" role="alert">
            The booking was refused: see the messages next to the fields.
          </p>
        )}
        <fieldset>
          <legend>When</legend>
          <div className="row">
            <label className="check">
              <input type="radio" name="mode" checked={!form.asap} onChange={() => set({ asap: false })} /> At a chosen time
            </label>
            <label className="check">
              <input type="radio" name="mode" checked={form.asap} onChange={() => set({ asap: true, repeat: false })} /> As soon as everything is
              free
            </label>
          </div>
          {errors.mode && <div className="error-text">⚠ {errors.mode}</div>}
          <div className="grid2">
            <Field label={`Start (${localZone()})`} name="start" errors={errors} hint={form.start ? `UTC: ${new Date(form.start).toISOString()}` : undefined}>
              {(p) => <input {...p} type="datetime-local" step={1} value={form.start} onChange={(e) => set({ start: e.target.value })} />}
            </Field>
            <Field label={`End (${localZone()})`} name="end" errors={errors} hint={form.repeat ? 'Required: the last firing is before it' : 'Optional'}>
              {(p) => <input {...p} type="datetime-local" step={1} value={form.end} onChange={(e) => set({ end: e.target.value })} />}
            </Field>
            <Field label="Duration of one execution (seconds)" name="duration_seconds" errors={errors} hint="How long it holds its computes; empty: the peer's default">
              {(p) => <input {...p} type="number" min={1} value={form.duration} onChange={(e) => set({ duration: e.target.value })} />}
            </Field>
            <Field label="Name of the executions" name="name" errors={errors} hint={`Empty: ${w.name}`}>
              {(p) => <input {...p} value={form.name} onChange={(e) => set({ name: e.target.value })} />}
            </Field>
          </div>
        </fieldset>
        {!form.asap && (
          <fieldset>
            <legend>Repeat</legend>
            <label className="check">
              <input type="checkbox" checked={form.repeat} onChange={(e) => set({ repeat: e.target.checked })} /> Run at every firing of a cron
              expression between start and end
            </label>
            {form.repeat && (
              <>
                <Field
                  label="Cron expression (UTC)"
                  name="cron"
                  errors={errors}
                  hint="5 fields (minute hour day month weekday) or 6 with seconds first, such as 0-10 30 14 21 11 *"
                >
                  {(p) => <input {...p} className="mono" value={form.cron} onChange={(e) => set({ cron: e.target.value })} />}
                </Field>
                <div className="row">
                  <button type="button" onClick={() => form.start && set({ cron: at(new Date(form.start)) })}>
                    Once, at the start
                  </button>
                  <button type="button" onClick={() => set({ cron: '0 * * * * *' })}>
                    Every minute
                  </button>
                  <button type="button" onClick={() => set({ cron: '0 0 * * * *' })}>
                    Every hour
                  </button>
                  <button type="button" onClick={() => set({ cron: '0 0 2 * * *' })}>
                    Every night at 02:00 UTC
                  </button>
                </div>
                <div aria-live="polite">
                  {firings.error && <p className="error-text">⚠ {firings.error}</p>}
                  {reading && (
                    <p>
                      <strong>Reads:</strong> {reading}
                    </p>
                  )}
                  {firings.firings.length > 0 && (
                    <>
                      <p>
                        <strong>Next firings</strong> (in {localZone()}):
                      </p>
                      <ol>
                        {firings.firings.map((d) => (
                          <li key={d.toISOString()}>
                            <time dateTime={d.toISOString()}>{when(d.toISOString())}</time>
                          </li>
                        ))}
                      </ol>
                    </>
                  )}
                </div>
              </>
            )}
          </fieldset>
        )}
        <div className="row">
          <button type="button" onClick={() => void check()} disabled={busy}>
            Check availability
          </button>
          <button type="submit" className="primary" disabled={busy}>
            Book
          </button>
        </div>
      </form>

      {plan && (
        <section className="panel" aria-labelledby="plan-h">
          <h2 id="plan-h">{conflicts.length ? (plan.checked ? 'Not free' : 'Not booked: the resources are held') : 'Free'}</h2>
          {conflicts.length === 0 ? (
            <p>
              ✓ Everything is free for the {plan.plan.windows?.length ?? 0} execution{plan.plan.windows?.length === 1 ? '' : 's'} asked.
            </p>
          ) : (
            <>
              <Table caption="Conflicts, per resource" head={['Resource', 'Window asked', 'What runs out', 'Held by']}>
                    {conflicts.map((c, i) => (
                      <tr key={i}>
                        <td>{name(c.resource)}</td>
                        <td>
                          <Time iso={c.start} /> – <Time iso={c.end} />
                        </td>
                        <td>{c.problem}</td>
                        <td>
                          <ul>
                            {(c.held ?? []).map((b) => (
                              <li key={b.id}>
                                <Link to={`/executions/${b.execution_id}`}>an execution</Link>, <Time iso={b.start} /> – <Time iso={b.end} />
                              </li>
                            ))}
                          </ul>
                        </td>
                      </tr>
                    ))}
              </Table>
              {plan.plan.next_free ? (
                <div className="row">
                  <p>
                    Next free slot: <Time iso={plan.plan.next_free} />
                  </p>
                  <button type="button" className="primary" onClick={() => void bookAtNextFree()} disabled={busy}>
                    Book at the next free slot
                  </button>
                </div>
              ) : (
                <p className="muted">No free slot was found for the whole plan.</p>
              )}
            </>
          )}
          {(plan.plan.warnings ?? []).map((m) => (
            <p key={m} className="warning">
              {m}
            </p>
          ))}
        </section>
      )}

      {booked && (
        <section className="panel" aria-labelledby="booked-h">
          <h2 id="booked-h">Booked</h2>
          <p role="status">
            ✓ {booked.executions?.length ?? 0} execution{booked.executions?.length === 1 ? '' : 's'} booked.
          </p>
          <ul>
            {(booked.executions ?? []).map((e) => (
              <li key={e.id}>
                <Link to={`/executions/${e.id}`}>{e.name}</Link> at <Time iso={e.start} />
              </li>
            ))}
          </ul>
          {(booked.warnings ?? []).map((m) => (
            <p key={m} className="warning">
              {m}
            </p>
          ))}
        </section>
      )}
    </>
  )
}
