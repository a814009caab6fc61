import { useState, type ReactNode } from 'react'
import { Link, useNavigate, useParams, useSearchParams } from 'react-router'
import { api, message, request } from '../api/client'
import type { Page, Resource, Workspace } from '../api/types'
import { useAuth } from '../auth/context'
import { ErrorBox, KindBadge, Loading, Time, Title } from '../components/ui'
import { bytes } from '../lib/format'
import { useAsync } from '../lib/useAsync'

export function ResourcePage() {
  const { id = '' } = useParams()
  const { me, admin } = useAuth()
  const navigate = useNavigate()
  // peer: a partner's resource, read live from it through this peer's relay.
  const peer = useSearchParams()[0].get('peer') ?? ''
  const path = peer ? `/peer/relay/${encodeURIComponent(peer)}/catalog/resources/${encodeURIComponent(id)}` : `/catalog/resources/${id}`
  const res = useAsync((signal) => api.get<Resource>(path, undefined, signal), [path])
  const [error, setError] = useState<unknown>()
  if (res.loading && !res.data) return <Loading />
  if (!res.data) return <ErrorBox error={res.error} />
  const r = res.data
  const mine = !peer && (admin || r.owners?.includes(me.sub))
  const remove = async () => {
    if (!window.confirm(`Delete “${r.name}” from the catalog?`)) return
    try {
      await request('DELETE', `/catalog/resources/${r.id}`, { version: r.version })
      navigate('/resources')
    } catch (e) {
      setError(e)
    }
  }
  const facts: [string, ReactNode][] = [
    ['Kind', <KindBadge key="k" kind={r.kind} />],
    ['Peer', r.peer_id],
    ['Visibility', r.visibility + (r.groups?.length ? ` (${r.groups.join(', ')})` : '')],
    ['Pricing', r.pricing ? `${r.pricing.model}${r.pricing.amount ? ` ${r.pricing.amount} ${r.pricing.currency ?? ''}` : ''}${r.pricing.period ? ` per ${r.pricing.period}` : ''}` : 'free'],
    ['License', r.license || '—'],
    ['Owners', <span key="o" className="mono">{(r.owners ?? []).join(', ')}</span>],
    ['Version', String(r.version)],
    ['Created', <Time key="c" iso={r.created_at} />],
    ['Changed', <Time key="u" iso={r.updated_at} />],
  ]
  const d = r.data
  if (d) facts.push(['Location', <span key="l" className="mono">{d.location}</span>], ['Format', d.format || '—'], ['Jurisdiction', d.jurisdiction || '—'], ['Personal data', d.personal_data ? 'yes' : 'no'], ['Size', bytes(d.size_bytes)])
  const p = r.processing
  if (p) {
    facts.push(['Image', <span key="i" className="mono">{p.image}</span>], ['Open source', p.open_source ? 'yes' : 'no'])
    if (p.command?.length) facts.push(['Command', <span key="c" className="mono">{p.command.join(' ')}</span>])
    if (p.args?.length) facts.push(['Arguments', <span key="a" className="mono">{p.args.join(' ')}</span>])
    facts.push(['Requests', `${p.requests?.cpu_millicores ?? 0} m CPU, ${bytes(p.requests?.memory_bytes)} memory, ${p.requests?.gpus ?? 0} GPU`])
  }
  const s = r.storage
  if (s) facts.push(['Endpoint', <span key="e" className="mono">{s.endpoint}</span>], ['Bucket', s.bucket], ['Region', s.region || '—'], ['Jurisdiction', s.jurisdiction || '—'], ['Encryption', s.encryption || 'none'], ['Capacity', bytes(s.capacity_bytes)])
  const c = r.compute
  if (c) {
    facts.push(['Cluster', c.cluster_ref], ['Architecture', c.architecture], ['Country', c.country || '—'], ['Site', c.location || '—'], ['Capacity', `${c.cpu_cores ?? 0} cores, ${bytes(c.memory_bytes)}, ${c.gpus ?? 0} GPU`])
    if (c.node_selector?.length) facts.push(['Node selector', <span key="n" className="mono">{c.node_selector.map((l) => `${l.key}=${l.value ?? ''}`).join(', ')}</span>])
  }
  if (r.workflow) facts.push(['Workflow', <Link key="w" to={`/workflows/${r.workflow.workflow_id}`}>{r.workflow.workflow_id}</Link>])

  return (
    <>
      <Title
        actions={
          mine && (
            <>
              <Link className="button" to={`/resources/${r.id}/edit`}>
                Edit
              </Link>
              <button type="button" className="danger" onClick={() => void remove()}>
                Delete
              </button>
            </>
          )
        }
      >
        {r.name}
      </Title>
      <ErrorBox error={error} />
      {peer && <p className="notice">A partner’s resource, read from its peer just now: only its peer’s users change it.</p>}
      {r.short_description && <p>{r.short_description}</p>}
      <div className="grid2">
        <section className="panel" aria-labelledby="facts">
          <h2 id="facts">Facts</h2>
          <dl className="facts">
            {facts.map(([k, v]) => (
              <div key={k} style={{ display: 'contents' }}>
                <dt>{k}</dt>
                <dd>{v}</dd>
              </div>
            ))}
          </dl>
          {(r.tags ?? []).length > 0 && (
            <p>
              {(r.tags ?? []).map((t) => (
                <Link key={t} className="tag" to={`/resources?tag=${encodeURIComponent(t)}`}>
                  {t}
                </Link>
              ))}
            </p>
          )}
        </section>
        <div>
          {r.description && (
            <section className="panel" aria-labelledby="about">
              <h2 id="about">Description</h2>
              <p style={{ whiteSpace: 'pre-wrap' }}>{r.description}</p>
            </section>
          )}
          {r.kind !== 'workflow' && <AddToWorkspace resource={r} />}
        </div>
      </div>
    </>
  )
}

function AddToWorkspace({ resource }: { resource: Resource }) {
  const spaces = useAsync((signal) => api.get<Page<Workspace>>('/workspace/workspaces', { owner: 'me', limit: 200 }, signal), [])
  const own = (spaces.data?.items ?? []).filter((w) => !w.workflow_id)
  const [target, setTarget] = useState('')
  const [status, setStatus] = useState<string>()
  const [error, setError] = useState<unknown>()
  const add = async () => {
    const ws = own.find((w) => w.id === (target || own[0]?.id))
    if (!ws) return
    setError(undefined)
    try {
      await api.post(`/workspace/workspaces/${ws.id}/resources`, { peer: resource.peer_id, id: resource.id })
      setStatus(`Added to ${ws.name}.`)
    } catch (e) {
      setError(e)
      setStatus(undefined)
    }
  }
  return (
    <section className="panel" aria-labelledby="add-ws">
      <h2 id="add-ws">Add to a workspace</h2>
      {spaces.error !== undefined && <p className="alert">{message(spaces.error)}</p>}
      {own.length === 0 ? (
        <p className="muted">
          You have no workspace yet: <Link to="/workspaces">create one</Link>.
        </p>
      ) : (
        <div className="row">
          <label htmlFor="ws-target" className="visually-hidden">
            Workspace
          </label>
          <select id="ws-target" value={target || own[0].id} onChange={(e) => setTarget(e.target.value)}>
            {own.map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
          </select>
          <button type="button" onClick={() => void add()}>
            Add
          </button>
        </div>
      )}
      <ErrorBox error={error} />
      {status && <p role="status">{status}</p>}
    </section>
  )
}
