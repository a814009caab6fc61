import { useState, type ChangeEvent } from 'react'
import { Link, useNavigate } from 'react-router'
import { api, ApiError } from '../api/client'
import type { Page, Validation, Workflow } from '../api/types'
import { CreateForm } from '../components/CreateForm'
import { ErrorBox, Loading, Pager, Table, Time, Title } from '../components/ui'
import { useAsync } from '../lib/useAsync'

export default function Workflows() {
  const navigate = useNavigate()
  const [offset, setOffset] = useState(0)
  const list = useAsync((signal) => api.get<Page<Workflow>>('/workflow/workflows', { limit: 50, offset, sort: '-updated_at' }, signal), [offset])
  const [importError, setImportError] = useState<unknown>()
  const importFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0]
    e.target.value = ''
    if (!file) return
    setImportError(undefined)
    try {
      const doc: unknown = JSON.parse(await file.text())
      const w = await api.post<Workflow>('/workflow/workflows/import', doc, { idempotent: true })
      navigate(`/workflows/${w.id}`)
    } catch (err) {
      setImportError(err instanceof SyntaxError ? new Error(`${file.name} is not JSON: ${err.message}`) : err)
    }
  }
  const importProblems = importError instanceof ApiError && importError.code === 'invalid_workflow' ? ((importError.details as Validation)?.problems ?? []) : []
  return (
    <>
      <Title>Workflows</Title>
      <div className="grid2">
        <CreateForm
          title="New workflow"
          button="Create and open the editor"
          fields={[{ name: 'name', label: 'Name' }]}
          submit={async (v) => {
            const w = await api.post<Workflow>('/workflow/workflows', { name: v.name, graph: { nodes: [], links: [] } }, { idempotent: true })
            navigate(`/workflows/${w.id}`)
          }}
        />
        <div className="panel">
          <h2>Import</h2>
          <div className="field">
            <label htmlFor="import-file">An exported workflow (opencloud.workflow/v1 JSON)</label>
            <input id="import-file" type="file" accept="application/json,.json" onChange={(e) => void importFile(e)} />
          </div>
          <ErrorBox error={importError} />
          {importProblems.length > 0 && (
            <ul>
              {importProblems.map((p, i) => (
                <li key={i}>{p.message}</li>
              ))}
            </ul>
          )}
        </div>
      </div>
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? (
        <Loading />
      ) : (
        <Table caption="Your workflows" hideCaption head={['Name', 'Nodes', 'Changed', 'Actions']}>
              {(list.data?.items ?? []).map((w) => (
                <tr key={w.id}>
                  <td>
                    <Link to={`/workflows/${w.id}`}>{w.name}</Link>
                  </td>
                  <td>{w.graph?.nodes?.length ?? 0}</td>
                  <td>
                    <Time iso={w.updated_at} />
                  </td>
                  <td className="row">
                    <Link to={`/workflows/${w.id}/book`} aria-label={`Book ${w.name}`}>
                      Book
                    </Link>
                    <Link to={`/executions?workflow=${w.id}`} aria-label={`Executions of ${w.name}`}>
                      Executions
                    </Link>
                  </td>
                </tr>
              ))}
              {list.data?.items?.length === 0 && (
                <tr>
                  <td colSpan={4} className="muted">
                    No workflow yet.
                  </td>
                </tr>
              )}
        </Table>
      )}
      <Pager offset={offset} limit={50} total={list.data?.total ?? 0} onPage={setOffset} />
    </>
  )
}
