import { Link } from 'react-router'
import { api } from '../api/client'
import { listPeers } from '../api/peers'
import type { Execution, Page } from '../api/types'
import { display, useAuth } from '../auth/context'
import { ErrorBox, Loading, StateBadge, Time, Title } from '../components/ui'
import { HEALTH_TEXT } from '../lib/peers'
import { useAsync } from '../lib/useAsync'

function ExecList({ items, empty }: { items: Execution[] | null | undefined; empty: string }) {
  if (!items?.length) return <p className="muted">{empty}</p>
  return (
    <ul className="cards">
      {items.map((e) => (
        <li key={e.id} className="card">
          <div className="spread">
            <Link to={`/executions/${e.id}`}>{e.name}</Link>
            <StateBadge state={e.state} />
          </div>
          <div className="small muted">
            <Time iso={e.start} />
            {e.reason && ` — ${e.reason}`}
          </div>
        </li>
      ))}
    </ul>
  )
}

export function Dashboard() {
  const { me } = useAuth()
  const data = useAsync(async (signal) => {
    const now = new Date().toISOString()
    const [active, failed, next, peers] = await Promise.all([
      api.get<Page<Execution>>('/scheduler/executions', { state: ['starting', 'running'], limit: 10, sort: '-start' }, signal),
      api.get<Page<Execution>>('/scheduler/executions', { state: ['failed'], limit: 5, sort: '-start' }, signal),
      api.get<Page<Execution>>('/scheduler/executions', { state: ['scheduled'], from: now, limit: 5, sort: 'start' }, signal),
      listPeers(signal, 'partner').catch(() => null),
    ])
    return { active, failed, next, peers }
  }, [])
  return (
    <>
      <Title>{`Welcome, ${display(me)}`}</Title>
      <ErrorBox error={data.error} />
      {data.loading && !data.data ? (
        <Loading />
      ) : (
        <div className="grid2">
          <section className="panel" aria-labelledby="d-running">
            <h2 id="d-running">Running now ({data.data?.active.total ?? 0})</h2>
            <ExecList items={data.data?.active.items} empty="Nothing runs at the moment." />
          </section>
          <section className="panel" aria-labelledby="d-failed">
            <h2 id="d-failed">Failed recently</h2>
            <ExecList items={data.data?.failed.items} empty="No execution failed." />
          </section>
          <section className="panel" aria-labelledby="d-next">
            <h2 id="d-next">Next bookings</h2>
            <ExecList items={data.data?.next.items} empty="Nothing is booked." />
            <p>
              <Link to="/executions">All executions and the calendar</Link>
            </p>
          </section>
          <section className="panel" aria-labelledby="d-peers">
            <h2 id="d-peers">Partners</h2>
            {data.data?.peers === null || data.data?.peers?.length === 0 ? (
              <p className="muted">This peer has no partner peers.</p>
            ) : (
              <ul>
                {(data.data?.peers ?? []).map((p) => (
                  <li key={p.id}>
                    {p.name || p.id}: {HEALTH_TEXT[p.status?.health ?? 'unknown']?.text ?? p.status?.health}
                  </li>
                ))}
              </ul>
            )}
            <p>
              <Link to="/peers">Peers</Link>
            </p>
          </section>
        </div>
      )}
    </>
  )
}
