import { listPeers } from '../api/peers'
import { ErrorBox, Loading, Time, Title, Table } from '../components/ui'
import { useAsync } from '../lib/useAsync'

export default function Peers() {
  const peers = useAsync((signal) => listPeers(signal), [])
  return (
    <>
      <Title>Peers</Title>
      <p className="muted">
        The other OpenCloud peers this one knows: partners share their catalogs and run each other's steps; a blocked peer is refused.
      </p>
      <ErrorBox error={peers.error} />
      {peers.loading && !peers.data ? (
        <Loading />
      ) : !peers.data?.length ? (
        <p className="panel">This peer knows no other peer.</p>
      ) : (
        <Table head={['Peer', 'Address', 'Relation', 'State', 'Last seen']}>
              {peers.data.map((p) => (
                <tr key={p.id}>
                  <td>
                    {p.name ?? p.id}
                    <div className="mono small muted">{p.id}</div>
                  </td>
                  <td className="mono">{p.url ?? '—'}</td>
                  <td>{p.relation ?? '—'}</td>
                  <td>{p.state ?? '—'}</td>
                  <td>
                    <Time iso={p.last_seen} />
                  </td>
                </tr>
              ))}
        </Table>
      )}
    </>
  )
}
