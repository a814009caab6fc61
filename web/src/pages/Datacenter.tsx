import { useState } from 'react'
import { Link } from 'react-router'
import { api, ApiError } from '../api/client'
import { VISIBILITIES, type ClusterNode, type Published, type Visibility } from '../api/types'
import { useAuth } from '../auth/context'
import { ErrorBox, Loading, Title, Table } from '../components/ui'
import { bytes } from '../lib/format'
import { useAsync } from '../lib/useAsync'

export default function Datacenter() {
  const { admin } = useAuth()
  const nodes = useAsync((signal) => api.get<{ cluster: string; items: ClusterNode[] | null }>('/datacenter/nodes', undefined, signal), [])
  const [visibility, setVisibility] = useState<Visibility>('private')
  const [result, setResult] = useState<{ items: Published[] | null; created: number; updated: number; unchanged: number; failed: number }>()
  const [error, setError] = useState<unknown>()
  const publish = async () => {
    setError(undefined)
    try {
      setResult(await api.post('/datacenter/inventory/publish', { visibility }))
    } catch (e) {
      setError(e)
    }
  }
  const noCluster = nodes.error instanceof ApiError && nodes.error.status === 503
  return (
    <>
      <Title>Datacenter</Title>
      {noCluster ? (
        <p className="notice">{(nodes.error as ApiError).message}</p>
      ) : (
        <ErrorBox error={nodes.error} />
      )}
      {nodes.loading && !nodes.data ? (
        <Loading />
      ) : (
        nodes.data && (
          <>
            <p>
              Cluster <strong>{nodes.data.cluster}</strong>: {nodes.data.items?.length ?? 0} node{nodes.data.items?.length === 1 ? '' : 's'}.
            </p>
            <Table caption="The cluster's nodes" hideCaption head={['Node', 'Ready', 'Architecture', 'CPU (allocatable)', 'Memory (allocatable)', 'GPUs']}>
                  {(nodes.data.items ?? []).map((n) => (
                    <tr key={n.name}>
                      <td>{n.name}</td>
                      <td>{n.ready ? (n.unschedulable ? '⊘ cordoned' : '✓ ready') : '✕ not ready'}</td>
                      <td>
                        {n.architecture} / {n.os}
                      </td>
                      <td>{(n.allocatable.cpu_millicores / 1000).toFixed(1)} cores</td>
                      <td>{bytes(n.allocatable.memory_bytes)}</td>
                      <td>{n.allocatable.gpus || '—'}</td>
                    </tr>
                  ))}
            </Table>
          </>
        )
      )}
      {admin && !noCluster && (
        <section className="panel" aria-labelledby="publish-h">
          <h2 id="publish-h">Publish the nodes as computes</h2>
          <p className="muted">One compute resource per node in this peer's catalog; publishing again updates them.</p>
          <div className="row">
            <label htmlFor="publish-vis">Visibility</label>
            <select id="publish-vis" value={visibility} onChange={(e) => setVisibility(e.target.value as Visibility)}>
              {VISIBILITIES.filter((v) => v !== 'groups').map((v) => (
                <option key={v}>{v}</option>
              ))}
            </select>
            <button type="button" className="primary" onClick={() => void publish()}>
              Publish
            </button>
          </div>
          <ErrorBox error={error} />
          {result && (
            <>
              <p role="status">
                {result.created} created, {result.updated} updated, {result.unchanged} unchanged, {result.failed} failed.
              </p>
              <ul>
                {(result.items ?? []).map((p) => (
                  <li key={p.node}>
                    {p.node}: {p.action}
                    {p.resource_id && (
                      <>
                        {' '}
                        — <Link to={`/resources/${p.resource_id}`}>its compute</Link>
                      </>
                    )}
                    {p.error && <span className="error-text"> {p.error}</span>}
                  </li>
                ))}
              </ul>
            </>
          )}
        </section>
      )}
    </>
  )
}
