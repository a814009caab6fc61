import { useState } from 'react'
import { Navigate, NavLink, Route, Routes } from 'react-router'
import { api, request } from '../api/client'
import type { Client, Group, Page, User } from '../api/types'
import { useAuth } from '../auth/context'
import { CreateForm } from '../components/CreateForm'
import { ErrorBox, Loading, Table, Time, Title } from '../components/ui'
import { splitList } from '../lib/format'
import { useAsync } from '../lib/useAsync'

export default function Admin() {
  const { admin } = useAuth()
  if (!admin) {
    return (
      <>
        <Title>Administration</Title>
        <p>Only administrators manage users, groups and clients.</p>
      </>
    )
  }
  return (
    <>
      <Title>Administration</Title>
      <nav aria-label="Administration" className="row" style={{ marginBottom: '1rem' }}>
        <NavLink className="button" to="/admin/users">
          Users
        </NavLink>
        <NavLink className="button" to="/admin/groups">
          Groups
        </NavLink>
        <NavLink className="button" to="/admin/clients">
          Clients
        </NavLink>
      </nav>
      <Routes>
        <Route index element={<Navigate to="users" replace />} />
        <Route path="users" element={<Users />} />
        <Route path="groups" element={<Groups />} />
        <Route path="clients" element={<Clients />} />
      </Routes>
    </>
  )
}

function Users() {
  const users = useAsync((signal) => api.get<Page<User>>('/auth/admin/users', { limit: 200 }, signal), [])
  const [rowError, setRowError] = useState<unknown>()
  const toggle = async (u: User) => {
    setRowError(undefined)
    try {
      await request('PATCH', `/auth/admin/users/${u.id}`, { body: { disabled: !u.disabled }, version: u.version })
      users.reload()
    } catch (err) {
      setRowError(err)
    }
  }
  return (
    <>
      <h2>Users</h2>
      <ErrorBox error={users.error ?? rowError} />
      {users.loading && !users.data ? (
        <Loading />
      ) : (
        <Table head={['User', 'Groups', 'Roles', 'Created', 'State']}>
              {(users.data?.items ?? []).map((u) => (
                <tr key={u.id}>
                  <td>
                    {u.display_name || u.username}
                    <div className="mono small muted">
                      {u.username} · {u.id}
                    </div>
                  </td>
                  <td>{(u.groups ?? []).join(', ') || '—'}</td>
                  <td>{(u.roles ?? []).join(', ')}</td>
                  <td>
                    <Time iso={u.created_at} />
                  </td>
                  <td>
                    {u.disabled ? '⊘ disabled' : '✓ enabled'}{' '}
                    <button type="button" className="link" onClick={() => void toggle(u)} aria-label={`${u.disabled ? 'Enable' : 'Disable'} ${u.username}`}>
                      {u.disabled ? 'enable' : 'disable'}
                    </button>
                  </td>
                </tr>
              ))}
        </Table>
      )}
      <CreateForm
        title="New user"
        button="Create user"
        fields={[
          { name: 'username', label: 'User name' },
          { name: 'display_name', label: 'Display name' },
          { name: 'email', label: 'Email', type: 'email' },
          { name: 'password', label: 'Password', type: 'password', hint: 'At least 12 characters' },
          { name: 'groups', label: 'Groups', hint: 'Comma-separated; admin makes an administrator' },
        ]}
        submit={async (v) => {
          await api.post('/auth/admin/users', { ...v, email: v.email || undefined, groups: splitList(v.groups) })
          users.reload()
        }}
      />
    </>
  )
}

function Groups() {
  const groups = useAsync((signal) => api.get<Page<Group>>('/auth/admin/groups', { limit: 200 }, signal), [])
  return (
    <>
      <h2>Groups</h2>
      <ErrorBox error={groups.error} />
      <ul className="cards">
        {(groups.data?.items ?? []).map((g) => (
          <li key={g.name} className="card">
            <strong>{g.name}</strong> {g.built_in && <span className="muted">(built in)</span>}
            {g.description && <div className="small">{g.description}</div>}
          </li>
        ))}
      </ul>
      <CreateForm
        title="New group"
        button="Create group"
        fields={[
          { name: 'name', label: 'Name' },
          { name: 'description', label: 'Description' },
        ]}
        submit={async (v) => {
          await api.post('/auth/admin/groups', { name: v.name, description: v.description || undefined })
          groups.reload()
        }}
      />
    </>
  )
}

function Clients() {
  const clients = useAsync((signal) => api.get<Page<Client>>('/auth/admin/clients', { limit: 200 }, signal), [])
  const [secret, setSecret] = useState<Client>()
  const [error, setError] = useState<unknown>()
  const remove = async (c: Client) => {
    if (!window.confirm(`Delete the client ${c.client_id}? Its secret stops working at once.`)) return
    try {
      await request('DELETE', `/auth/admin/clients/${encodeURIComponent(c.client_id)}`, { version: c.version })
      clients.reload()
    } catch (err) {
      setError(err)
    }
  }
  return (
    <>
      <h2>Clients</h2>
      <ErrorBox error={clients.error ?? error} />
      <Table head={['Client', 'Kind', 'Grants', 'Roles', 'Actions']}>
            {(clients.data?.items ?? []).map((c) => (
              <tr key={c.client_id}>
                <td>
                  {c.name}
                  <div className="mono small muted">{c.client_id}</div>
                </td>
                <td>{c.public ? 'public' : 'confidential'}</td>
                <td>{(c.grant_types ?? []).join(', ')}</td>
                <td>{(c.roles ?? []).join(', ') || '—'}</td>
                <td>
                  {c.built_in ? (
                    <span className="muted">built in</span>
                  ) : (
                    <button type="button" className="danger" onClick={() => void remove(c)} aria-label={`Delete client ${c.client_id}`}>
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
      </Table>
      <CreateForm
        title="New client for scripts (client credentials)"
        button="Register client"
        fields={[
          { name: 'name', label: 'Name' },
          { name: 'roles', label: 'Roles', hint: 'Comma-separated: user, admin', initial: 'user' },
        ]}
        submit={async (v) => {
          setSecret(undefined)
          setSecret(await api.post<Client>('/auth/admin/clients', { name: v.name, grant_types: ['client_credentials'], roles: splitList(v.roles) }))
          clients.reload()
        }}
      >
        {secret?.client_secret && (
          <div className="notice" role="status">
            Client <span className="mono">{secret.client_id}</span> registered. Its secret, shown this once:{' '}
            <span className="mono">{secret.client_secret}</span>
          </div>
        )}
      </CreateForm>
    </>
  )
}
