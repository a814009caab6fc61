import { useEffect, useState, type FormEvent, type ReactNode } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import { api, ApiError, request } from '../api/client'
import { KINDS, VISIBILITIES, type Kind, type Resource } from '../api/types'
import { ErrorBox, Field, Loading, Title } from '../components/ui'
import { emptyValues, formPath, fromResource, toInput, type FormValues } from '../lib/resourceForm'
import { useAsync } from '../lib/useAsync'

const ARCHITECTURES = ['amd64', 'arm64', 'arm', 'ppc64le', 's390x', 'riscv64']
const ENCRYPTIONS = ['none', 'sse-s3', 'sse-kms', 'sse-c', 'client-side']
const PRICING = ['free', 'per_use', 'per_hour', 'per_gb', 'subscription']
const PERIODS = ['day', 'week', 'month', 'year']

export function ResourceForm() {
  const { id } = useParams()
  const existing = useAsync(async (signal) => (id ? api.get<Resource>(`/catalog/resources/${id}`, undefined, signal) : undefined), [id])
  if (id && existing.loading) return <Loading />
  if (id && existing.error) return <ErrorBox error={existing.error} />
  return <Form key={id ?? 'new'} existing={existing.data} />
}

function Form({ existing }: { existing?: Resource }) {
  const navigate = useNavigate()
  const [values, setValues] = useState<FormValues>(() => (existing ? fromResource(existing) : emptyValues('data')))
  const [error, setError] = useState<unknown>()
  const [busy, setBusy] = useState(false)
  const kind = values.kind as Kind

  // The server's problems, each shown at the field it names.
  const errors: Record<string, string> = {}
  if (error instanceof ApiError) {
    for (const f of error.fields) {
      const p = formPath(f.field)
      errors[p] = errors[p] ? `${errors[p]}; ${f.problem}` : f.problem
    }
  }
  useEffect(() => {
    // Take the keyboard to the first field to fix.
    if (error instanceof ApiError && error.fields.length) {
      document.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus()
    }
  }, [error])

  const set = (path: string, v: string | boolean) => setValues((old) => ({ ...old, [path]: v }))
  const text = (path: string, label: string, hint?: ReactNode, type = 'text') => (
    <Field label={label} name={path} errors={errors} hint={hint}>
      {(p) => <input {...p} type={type} value={String(values[path] ?? '')} onChange={(e) => set(path, e.target.value)} />}
    </Field>
  )
  const area = (path: string, label: string, hint?: ReactNode) => (
    <Field label={label} name={path} errors={errors} hint={hint}>
      {(p) => <textarea {...p} value={String(values[path] ?? '')} onChange={(e) => set(path, e.target.value)} />}
    </Field>
  )
  const choice = (path: string, label: string, options: string[], hint?: ReactNode) => (
    <Field label={label} name={path} errors={errors} hint={hint}>
      {(p) => (
        <select {...p} value={String(values[path] ?? '')} onChange={(e) => set(path, e.target.value)}>
          {!options.includes(String(values[path] ?? '')) && <option value="">—</option>}
          {options.map((o) => (
            <option key={o}>{o}</option>
          ))}
        </select>
      )}
    </Field>
  )
  const check = (path: string, label: string) => (
    <div className="field">
      <label className="check">
        <input type="checkbox" name={path} checked={values[path] === true} onChange={(e) => set(path, e.target.checked)} />
        {label}
      </label>
      {errors[path] && <div className="error">⚠ {errors[path]}</div>}
    </div>
  )

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    try {
      const body = toInput(values)
      const saved = existing
        ? await request<Resource>('PUT', `/catalog/resources/${existing.id}`, { body, version: existing.version })
        : await request<Resource>('POST', '/catalog/resources', { body, idempotent: true })
      navigate(`/resources/${saved.data.id}`)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  const unplaced = error instanceof ApiError ? error.fields.filter((f) => !document.getElementsByName(formPath(f.field)).length) : []
  return (
    <>
      <Title>{existing ? `Edit ${existing.name}` : 'New resource'}</Title>
      <form onSubmit={submit} noValidate className="panel" aria-describedby={error ? 'form-error' : undefined}>
        {error !== undefined && (
          <div id="form-error">
            {error instanceof ApiError && error.fields.length ? (
              <div className="alert" role="alert">
                {error.fields.length === 1 ? 'One field needs a change' : `${error.fields.length} fields need a change`}: see the
                messages next to them.
                {unplaced.length > 0 && (
                  <ul>
                    {unplaced.map((f) => (
                      <li key={f.field}>
                        <span className="mono">{f.field}</span>: {f.problem}
                      </li>
                    ))}
                  </ul>
                )}
              </div>
            ) : (
              <ErrorBox error={error} />
            )}
          </div>
        )}
        <div className="grid2">
          <div>
            <Field label="Kind" name="kind" errors={errors}>
              {(p) => (
                <select {...p} value={kind} disabled={!!existing} onChange={(e) => set('kind', e.target.value)}>
                  {KINDS.map((k) => (
                    <option key={k}>{k}</option>
                  ))}
                </select>
              )}
            </Field>
            {text('name', 'Name')}
            {text('short_description', 'Short description')}
            {area('description', 'Description')}
            {text('tags', 'Tags', 'Comma-separated: a-z, 0-9, - _ .')}
          </div>
          <div>
            {choice('visibility', 'Visibility', VISIBILITIES)}
            {values.visibility === 'groups' && text('groups', 'Groups', 'Comma-separated group names')}
            {text('license', 'License')}
            {text('logo', 'Logo URL', undefined, 'url')}
            <fieldset>
              <legend>Pricing</legend>
              {choice('pricing.model', 'Model', PRICING)}
              {values['pricing.model'] !== 'free' && (
                <>
                  {text('pricing.amount', 'Amount', undefined, 'number')}
                  {text('pricing.currency', 'Currency', 'ISO 4217, such as EUR')}
                  {values['pricing.model'] === 'subscription' && choice('pricing.period', 'Period', PERIODS)}
                </>
              )}
            </fieldset>
          </div>
        </div>
        <fieldset>
          <legend>{kind[0].toUpperCase() + kind.slice(1)}</legend>
          {kind === 'data' && (
            <div className="grid2">
              {text('data.location', 'Location', 'A URL (s3://, https://…) or a path in a storage')}
              {text('data.format', 'Format')}
              {text('data.jurisdiction', 'Jurisdiction', 'ISO 3166-1 alpha-2 code, or EU')}
              {text('data.size_bytes', 'Size (MiB)', undefined, 'number')}
              {check('data.personal_data', 'Holds personal data (GDPR)')}
            </div>
          )}
          {kind === 'processing' && (
            <div className="grid2">
              {text('processing.image', 'Container image', 'Such as ghcr.io/acme/tool:1.0')}
              {check('processing.open_source', 'Its source code is published')}
              {area('processing.command', 'Command', 'One argument a line')}
              {area('processing.args', 'Arguments', 'One argument a line')}
              {area('processing.env', 'Environment', 'NAME=value, one a line')}
              {area('processing.annotations', 'Pod annotations', 'key=value, one a line')}
              {text('processing.requests.cpu_millicores', 'CPU (millicores)', undefined, 'number')}
              {text('processing.requests.memory_bytes', 'Memory (MiB)', undefined, 'number')}
              {text('processing.requests.gpus', 'GPUs', undefined, 'number')}
              {text('processing.ports', 'Ports', 'Comma-separated')}
            </div>
          )}
          {kind === 'storage' && (
            <div className="grid2">
              {text('storage.endpoint', 'S3 endpoint', 'The http(s) URL of the S3 API', 'url')}
              {text('storage.bucket', 'Bucket')}
              {text('storage.region', 'Region')}
              {text('storage.jurisdiction', 'Jurisdiction', 'ISO 3166-1 alpha-2 code, or EU')}
              {choice('storage.encryption', 'Encryption', ENCRYPTIONS)}
              {text('storage.capacity_bytes', 'Capacity (GiB)', undefined, 'number')}
            </div>
          )}
          {kind === 'compute' && (
            <div className="grid2">
              {text('compute.cluster_ref', 'Cluster', "The cluster's name in oc-datacenter")}
              {choice('compute.architecture', 'Architecture', ARCHITECTURES)}
              {text('compute.country', 'Country', 'ISO 3166-1 alpha-2 code')}
              {text('compute.location', 'Site')}
              {text('compute.cpu_cores', 'CPU cores', '0: no limit is declared', 'number')}
              {text('compute.memory_bytes', 'Memory (GiB)', undefined, 'number')}
              {text('compute.gpus', 'GPUs', undefined, 'number')}
              {text('compute.gpu_model', 'GPU model')}
              {text('compute.carbon_intensity', 'Carbon intensity (gCO₂e/kWh)', undefined, 'number')}
              {area('compute.security_standards', 'Security standards', 'One a line')}
              {area('compute.node_selector', 'Node selector', 'Kubernetes node labels, key=value, one a line')}
            </div>
          )}
          {kind === 'workflow' && text('workflow.workflow_id', 'Workflow id', "The workflow's id in oc-workflow")}
        </fieldset>
        <div className="row">
          <button type="submit" className="primary" disabled={busy}>
            {existing ? 'Save changes' : 'Create resource'}
          </button>
          <Link to={existing ? `/resources/${existing.id}` : '/resources'}>Cancel</Link>
        </div>
      </form>
    </>
  )
}
