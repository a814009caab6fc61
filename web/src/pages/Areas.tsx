import { useState } from 'react'
import { Link, useNavigate } from 'react-router'
import { api } from '../api/client'
import type { Area, Page } from '../api/types'
import { CreateForm } from '../components/CreateForm'
import { ErrorBox, Loading, Pager, Table, Time, Title } from '../components/ui'
import { useAsync } from '../lib/useAsync'

export default function Areas() {
  const navigate = useNavigate()
  const [offset, setOffset] = useState(0)
  const list = useAsync((signal) => api.get<Page<Area>>('/workspace/areas', { limit: 50, offset, sort: 'name' }, signal), [offset])
  return (
    <>
      <Title>Collaborative areas</Title>
      <p className="muted">
        An area gathers members, peers and what they share — workspaces, workflows, resources — under a rule book that every share is checked
        against.
      </p>
      <CreateForm
        title="New area"
        button="Create area"
        fields={[
          { name: 'name', label: 'Name' },
          { name: 'description', label: 'Description' },
        ]}
        submit={async (v) => {
          const a = await api.post<Area>('/workspace/areas', { name: v.name, description: v.description || undefined }, { idempotent: true })
          navigate(`/areas/${a.id}`)
        }}
      />
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? (
        <Loading />
      ) : (
        <Table caption="Your collaborative areas" hideCaption head={['Area', 'Members', 'Rules', 'Shared', 'Changed']}>
              {(list.data?.items ?? []).map((a) => (
                <tr key={a.id}>
                  <td>
                    <Link to={`/areas/${a.id}`}>{a.name}</Link>
                  </td>
                  <td>{a.members?.length ?? 0}</td>
                  <td>{a.rules?.length ?? 0}</td>
                  <td>{a.shared?.length ?? 0}</td>
                  <td>
                    <Time iso={a.updated_at} />
                  </td>
                </tr>
              ))}
              {list.data?.items?.length === 0 && (
                <tr>
                  <td colSpan={5} className="muted">
                    You are a member of no area.
                  </td>
                </tr>
              )}
        </Table>
      )}
      <Pager offset={offset} limit={50} total={list.data?.total ?? 0} onPage={setOffset} />
    </>
  )
}
