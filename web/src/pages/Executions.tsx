import { useState } from 'react'
import { Link, useSearchParams } from 'react-router'
import { api } from '../api/client'
import { EXEC_STATES, type Execution, type Page, type Workflow } from '../api/types'
import { ErrorBox, Loading, Pager, StateBadge, stateIcon, Time, Title, Table } from '../components/ui'
import { fromLocalInput, localZone } from '../lib/format'
import { useAsync } from '../lib/useAsync'

const LIMIT = 25

export default function Executions() {
  const [params, setParams] = useSearchParams()
  const view = params.get('view') === 'calendar' ? 'calendar' : 'list'
  const setView = (v: string) => {
    const p = new URLSearchParams(params)
    if (v === 'list') p.delete('view')
    else p.set('view', v)
    setParams(p)
  }
  return (
    <>
      <Title>Executions</Title>
      <div className="row" role="group" aria-label="View">
        <button type="button" aria-pressed={view === 'list'} className={view === 'list' ? 'primary' : ''} onClick={() => setView('list')}>
          List
        </button>
        <button type="button" aria-pressed={view === 'calendar'} className={view === 'calendar' ? 'primary' : ''} onClick={() => setView('calendar')}>
          Calendar
        </button>
      </div>
      {view === 'list' ? <List /> : <Calendar />}
    </>
  )
}

function List() {
  const [params, setParams] = useSearchParams()
  const states = params.getAll('state')
  const workflow = params.get('workflow') ?? ''
  const from = params.get('from') ?? ''
  const to = params.get('to') ?? ''
  const offset = Number(params.get('offset') ?? '0') || 0
  const update = (patch: Record<string, string | string[] | undefined>) => {
    const p = new URLSearchParams(params)
    for (const [k, v] of Object.entries(patch)) {
      p.delete(k)
      for (const x of Array.isArray(v) ? v : v ? [v] : []) p.append(k, x)
    }
    if (!('offset' in patch)) p.delete('offset')
    setParams(p)
  }
  const workflows = useAsync((signal) => api.get<Page<Workflow>>('/workflow/workflows', { limit: 200, sort: 'name' }, signal), [])
  const list = useAsync(
    (signal) =>
      api.get<Page<Execution>>(
        '/scheduler/executions',
        {
          state: states,
          workflow: workflow || undefined,
          from: fromLocalInput(from)?.toISOString(),
          to: fromLocalInput(to)?.toISOString(),
          sort: '-start',
          limit: LIMIT,
          offset,
        },
        signal,
      ),
    [params.toString()],
  )
  return (
    <>
      <form className="panel" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <fieldset>
          <legend>State</legend>
          <div className="row">
            {EXEC_STATES.map((s) => (
              <label key={s} className="check">
                <input
                  type="checkbox"
                  checked={states.includes(s)}
                  onChange={() => update({ state: states.includes(s) ? states.filter((x) => x !== s) : [...states, s] })}
                />
                <span aria-hidden="true">{stateIcon(s)}</span> {s}
              </label>
            ))}
          </div>
        </fieldset>
        <div className="grid2">
          <div className="field">
            <label htmlFor="f-workflow">Workflow</label>
            <select id="f-workflow" value={workflow} onChange={(e) => update({ workflow: e.target.value })}>
              <option value="">All workflows</option>
              {(workflows.data?.items ?? []).map((w) => (
                <option key={w.id} value={w.id}>
                  {w.name}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="f-from">Ending after ({localZone()})</label>
            <input id="f-from" type="datetime-local" value={from} onChange={(e) => update({ from: e.target.value })} />
          </div>
          <div className="field">
            <label htmlFor="f-to">Starting before ({localZone()})</label>
            <input id="f-to" type="datetime-local" value={to} onChange={(e) => update({ to: e.target.value })} />
          </div>
        </div>
      </form>
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? (
        <Loading />
      ) : (
        <>
          <p className="muted" role="status">
            {list.data?.total ?? 0} execution{list.data?.total === 1 ? '' : 's'}
          </p>
          <Table caption="Executions" hideCaption head={['Execution', 'State', 'Booked for', 'Why']}>
                {(list.data?.items ?? []).map((e) => (
                  <tr key={e.id}>
                    <td>
                      <Link to={`/executions/${e.id}`}>{e.name}</Link>
                    </td>
                    <td>
                      <StateBadge state={e.state} />
                    </td>
                    <td>
                      <Time iso={e.start} />
                    </td>
                    <td className="small">{e.reason ?? ''}</td>
                  </tr>
                ))}
          </Table>
          <Pager offset={offset} limit={LIMIT} total={list.data?.total ?? 0} onPage={(o) => update({ offset: String(o) })} />
        </>
      )}
    </>
  )
}

function Calendar() {
  const [month, setMonth] = useState(() => {
    const d = new Date()
    return new Date(d.getFullYear(), d.getMonth(), 1)
  })
  const first = new Date(month)
  const gridStart = new Date(first)
  gridStart.setDate(1 - ((first.getDay() + 6) % 7))
  const days = Array.from({ length: 42 }, (_, i) => new Date(gridStart.getFullYear(), gridStart.getMonth(), gridStart.getDate() + i))
  const gridEnd = new Date(days[41].getFullYear(), days[41].getMonth(), days[41].getDate() + 1)
  const list = useAsync(
    (signal) =>
      api.get<Page<Execution>>('/scheduler/executions', { from: gridStart.toISOString(), to: gridEnd.toISOString(), sort: 'start', limit: 200 }, signal),
    [gridStart.toISOString()],
  )
  const byDay = new Map<string, Execution[]>()
  for (const e of list.data?.items ?? []) {
    const d = new Date(e.start)
    const k = `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`
    byDay.set(k, [...(byDay.get(k) ?? []), e])
  }
  const title = month.toLocaleDateString(undefined, { month: 'long', year: 'numeric' })
  const shift = (n: number) => setMonth(new Date(month.getFullYear(), month.getMonth() + n, 1))
  return (
    <section aria-labelledby="cal-h" className="panel">
      <div className="spread">
        <h2 id="cal-h">
          {title} <span className="muted small">({localZone()})</span>
        </h2>
        <div className="row">
          <button type="button" onClick={() => shift(-1)}>
            Previous month
          </button>
          <button type="button" onClick={() => shift(1)}>
            Next month
          </button>
        </div>
      </div>
      <ErrorBox error={list.error} />
      {list.data && list.data.total > 200 && <p className="warning">The first 200 executions of the month are shown.</p>}
      <div className="calendar" role="grid" aria-labelledby="cal-h">
        <div role="row" style={{ display: 'contents' }}>
          {['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].map((d) => (
            <div key={d} className="head" role="columnheader">
              {d}
            </div>
          ))}
        </div>
        {Array.from({ length: 6 }, (_, w) => (
          <div key={w} role="row" style={{ display: 'contents' }}>
            {days.slice(w * 7, w * 7 + 7).map((d) => {
              const items = byDay.get(`${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`) ?? []
              return (
                <div key={d.toISOString()} role="gridcell" className={d.getMonth() === month.getMonth() ? '' : 'other'}>
                  <div className="muted">{d.getDate()}</div>
                  <ul>
                    {items.slice(0, 4).map((e) => (
                      <li key={e.id}>
                        <Link to={`/executions/${e.id}`}>
                          <span aria-hidden="true">{stateIcon(e.state)}</span>{' '}
                          {new Date(e.start).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })} {e.name}
                          <span className="visually-hidden"> ({e.state})</span>
                        </Link>
                      </li>
                    ))}
                    {items.length > 4 && <li className="muted">+{items.length - 4} more</li>}
                  </ul>
                </div>
              )
            })}
          </div>
        ))}
      </div>
    </section>
  )
}
