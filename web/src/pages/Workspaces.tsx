import { useState, type FormEvent } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import { api, request } from '../api/client'
import type { Page, Resolved, Resource, Workspace } from '../api/types'
import { useAuth } from '../auth/context'
import { CreateForm } from '../components/CreateForm'
import { Who } from '../components/Who'
import { ErrorBox, KindBadge, Loading, Pager, Table, Time, Title } from '../components/ui'
import { useAsync } from '../lib/useAsync'

export function Workspaces() {
  const [offset, setOffset] = useState(0)
  const list = useAsync((signal) => api.get<Page<Workspace>>('/workspace/workspaces', { limit: 50, offset, sort: 'name' }, signal), [offset])
  const navigate = useNavigate()
  return (
    <>
      <Title>Workspaces</Title>
      <CreateForm
        title="New workspace"
        button="Create"
        fields={[{ name: 'name', label: 'Name' }]}
        submit={async (v) => {
          const ws = await api.post<Workspace>('/workspace/workspaces', { name: v.name }, { idempotent: true })
          navigate(`/workspaces/${ws.id}`)
        }}
      />
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? (
        <Loading />
      ) : (
        <Table caption="Your workspaces and those shared with you" hideCaption head={['Name', 'Resources', 'Owner', 'Changed']}>
              {(list.data?.items ?? []).map((w) => (
                <tr key={w.id}>
                  <td>
                    <Link to={`/workspaces/${w.id}`}>{w.name}</Link>
                    {w.workflow_id && <span className="muted small"> (kept in step with its workflow)</span>}
                  </td>
                  <td>{w.resources?.length ?? 0}</td>
                  <td>
                    <Who sub={w.owner} />
                  </td>
                  <td>
                    <Time iso={w.updated_at} />
                  </td>
                </tr>
              ))}
        </Table>
      )}
      <Pager offset={offset} limit={50} total={list.data?.total ?? 0} onPage={setOffset} />
    </>
  )
}

export function WorkspacePage() {
  const { id = '' } = useParams()
  const { me, admin } = useAuth()
  const navigate = useNavigate()
  const ws = useAsync((signal) => api.get<Workspace>(`/workspace/workspaces/${id}`, undefined, signal), [id])
  const resolved = useAsync((signal) => api.get<Page<Resolved>>(`/workspace/workspaces/${id}/resources`, { limit: 200 }, signal), [id])
  const [error, setError] = useState<unknown>()
  const [q, setQ] = useState('')
  const [found, setFound] = useState<Resource[]>()
  if (ws.loading && !ws.data) return <Loading />
  if (!ws.data) return <ErrorBox error={ws.error} />
  const w = ws.data
  const canEdit = (admin || w.owner === me.sub) && !w.workflow_id
  const reload = () => {
    ws.reload()
    resolved.reload()
  }
  const remove = async (peer: string, rid: string) => {
    setError(undefined)
    try {
      await api.del(`/workspace/workspaces/${w.id}/resources/${encodeURIComponent(peer)}/${encodeURIComponent(rid)}`)
      reload()
    } catch (e) {
      setError(e)
    }
  }
  const add = async (r: Resource) => {
    setError(undefined)
    try {
      await api.post(`/workspace/workspaces/${w.id}/resources`, { peer: r.peer_id, id: r.id })
      reload()
    } catch (e) {
      setError(e)
    }
  }
  const search = async (e: FormEvent) => {
    e.preventDefault()
    setError(undefined)
    try {
      const page = await api.get<Page<Resource>>('/catalog/resources', { q: q || undefined, limit: 20 })
      setFound((page.items ?? []).filter((r) => r.kind !== 'workflow'))
    } catch (err) {
      setError(err)
    }
  }
  const deleteWs = async () => {
    if (!window.confirm(`Delete the workspace “${w.name}”? Its resources stay in the catalog.`)) return
    try {
      await request('DELETE', `/workspace/workspaces/${w.id}`, { version: w.version })
      navigate('/workspaces')
    } catch (e) {
      setError(e)
    }
  }
  const held = new Set((w.resources ?? []).map((e) => e.ref.id))
  return (
    <>
      <Title
        actions={
          canEdit && (
            <button type="button" className="danger" onClick={() => void deleteWs()}>
              Delete workspace
            </button>
          )
        }
      >
        {w.name}
      </Title>
      {w.workflow_id && (
        <p className="notice">
          This workspace holds exactly the resources of the workflow <Link to={`/workflows/${w.workflow_id}`}>it belongs to</Link>: change the
          workflow to change it.
        </p>
      )}
      <ErrorBox error={error} />
      <section aria-labelledby="ws-resources">
        <h2 id="ws-resources">Resources</h2>
        <ErrorBox error={resolved.error} />
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Resource</th>
                <th scope="col">Kind</th>
                <th scope="col">Available</th>
                <th scope="col">Added</th>
                {canEdit && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {(resolved.data?.items ?? []).map((r) => (
                <tr key={`${r.ref.peer}/${r.ref.id}`}>
                  <td>
                    {r.resource ? <Link to={`/resources/${r.ref.id}`}>{r.resource.name}</Link> : <span className="mono">{r.ref.id}</span>}
                    <div className="muted small">peer {r.ref.peer}</div>
                  </td>
                  <td>{r.resource && <KindBadge kind={r.resource.kind} />}</td>
                  <td>{r.available ? '✓ available' : <span className="error-text">⚠ unavailable: {r.reason}</span>}</td>
                  <td>
                    <Time iso={r.added_at} />
                  </td>
                  {canEdit && (
                    <td>
                      <button type="button" onClick={() => void remove(r.ref.peer ?? '', r.ref.id)} aria-label={`Remove ${r.resource?.name ?? r.ref.id}`}>
                        Remove
                      </button>
                    </td>
                  )}
                </tr>
              ))}
              {resolved.data?.items?.length === 0 && (
                <tr>
                  <td colSpan={canEdit ? 5 : 4} className="muted">
                    No resource yet.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </section>
      {canEdit && (
        <section className="panel" aria-labelledby="ws-add">
          <h2 id="ws-add">Add from the catalog</h2>
          <form role="search" className="row" onSubmit={(e) => void search(e)}>
            <label htmlFor="ws-q" className="visually-hidden">
              Search the catalog
            </label>
            <input id="ws-q" type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="Search the catalog" style={{ flex: 1 }} />
            <button type="submit">Search</button>
          </form>
          {found && (
            <ul className="cards" style={{ marginTop: '0.75rem' }}>
              {found.map((r) => (
                <li key={r.id} className="card spread">
                  <span>
                    <KindBadge kind={r.kind} /> {r.name}
                  </span>
                  <button type="button" disabled={held.has(r.id)} onClick={() => void add(r)} aria-label={`Add ${r.name}`}>
                    {held.has(r.id) ? 'Added' : 'Add'}
                  </button>
                </li>
              ))}
              {found.length === 0 && <li className="muted">Nothing found.</li>}
            </ul>
          )}
        </section>
      )}
    </>
  )
}
