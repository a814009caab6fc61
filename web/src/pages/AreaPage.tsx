import { useState, type FormEvent } from 'react'
import { Link, useParams } from 'react-router'
import { api, ApiError } from '../api/client'
import {
  RULE_KINDS,
  type Area,
  type Op,
  type Page,
  type Report,
  type Resource,
  type Rule,
  type RuleKind,
  type SharedKind,
  type Violation,
  type Workflow,
  type Workspace,
} from '../api/types'
import { useAuth } from '../auth/context'
import { Who } from '../components/Who'
import { ErrorBox, Loading, Time, Title, Table } from '../components/ui'
import { useAsync } from '../lib/useAsync'

const RULE_WORDS: Record<RuleKind, string> = {
  open_source_processings: 'Only open-source processings',
  no_personal_data: 'No personal data',
  jurisdictions: 'Data and storage within these jurisdictions',
  results_members_only: 'Results written only to members’ storages',
  compute_peers: 'Steps run only on these peers’ computes',
}

function ViolationList({ violations }: { violations: Violation[] | null | undefined }) {
  if (!violations?.length) return <p>✓ Nothing breaks the rules.</p>
  return (
    <ul>
      {violations.map((v, i) => (
        <li key={i}>
          <span aria-hidden="true">⚠ </span>
          <strong>{RULE_WORDS[v.rule_kind] ?? v.rule_kind}</strong>: {v.message}
        </li>
      ))}
    </ul>
  )
}

export default function AreaPage() {
  const { id = '' } = useParams()
  const { me, admin } = useAuth()
  const area = useAsync((signal) => api.get<Area>(`/workspace/areas/${id}`, undefined, signal), [id])
  const history = useAsync((signal) => api.get<Page<Op>>(`/workspace/areas/${id}/history`, { limit: 50 }, signal), [id, area.data?.version])
  const [error, setError] = useState<unknown>()
  const [report, setReport] = useState<Report>()
  if (area.loading && !area.data) return <Loading />
  if (!area.data) return <ErrorBox error={area.error} />
  const a = area.data
  const areaAdmin = admin || (a.members ?? []).some((m) => m.subject === me.sub && m.admin)
  const act = async (f: () => Promise<Area | { area: Area; report: Report }>) => {
    setError(undefined)
    try {
      const r = await f()
      if ('report' in r) {
        area.set(r.area)
        setReport(r.report)
      } else area.set(r)
    } catch (e) {
      setError(e)
      if (e instanceof ApiError && e.code === 'rule_broken' && Array.isArray(e.details)) setReport({ violations: e.details as Violation[], unchecked: [] })
    }
  }
  return (
    <>
      <Title>{a.name}</Title>
      {a.description && <p>{a.description}</p>}
      <ErrorBox error={error} />
      <div className="grid2">
        <Members area={a} canEdit={areaAdmin} act={act} />
        <Rules key={a.version} area={a} canEdit={areaAdmin} act={act} />
      </div>
      <Shared area={a} act={act} />
      <section className="panel" aria-labelledby="violations-h">
        <div className="spread">
          <h2 id="violations-h">Violations</h2>
          <button
            type="button"
            onClick={() =>
              void api.get<Report>(`/workspace/areas/${a.id}/violations`).then(setReport, (e: unknown) => setError(e))
            }
          >
            Check now
          </button>
        </div>
        {report ? (
          <>
            <ViolationList violations={report.violations} />
            {(report.unchecked ?? []).map((u) => (
              <p key={u.resource.id} className="warning">
                Not checked: {u.resource.id} ({u.reason})
              </p>
            ))}
          </>
        ) : (
          <p className="muted">Check what the area holds against its rules.</p>
        )}
      </section>
      <section aria-labelledby="history-h">
        <h2 id="history-h">History</h2>
        <ErrorBox error={history.error} />
        <Table head={['When', 'Who', 'What']}>
              {(history.data?.items ?? []).map((op) => (
                <tr key={op.id}>
                  <td>
                    <Time iso={op.stamp.at} />
                  </td>
                  <td>
                    <Who sub={op.stamp.by} />
                  </td>
                  <td>{op.type.replace('.', ' ')}</td>
                </tr>
              ))}
        </Table>
      </section>
    </>
  )
}

type Act = (f: () => Promise<Area | { area: Area; report: Report }>) => Promise<void>

function Members({ area, canEdit, act }: { area: Area; canEdit: boolean; act: Act }) {
  const [subject, setSubject] = useState('')
  const [isAdmin, setIsAdmin] = useState(false)
  const [peer, setPeer] = useState('')
  const add = (e: FormEvent) => {
    e.preventDefault()
    void act(() => api.post<Area>(`/workspace/areas/${area.id}/members`, { subject, admin: isAdmin })).then(() => setSubject(''))
  }
  return (
    <section className="panel" aria-labelledby="members-h">
      <h2 id="members-h">Members</h2>
      <ul>
        {(area.members ?? []).map((m) => (
          <li key={m.subject}>
            <Who sub={m.subject} /> {m.admin && <strong>(admin)</strong>}{' '}
            {canEdit && (
              <button
                type="button"
                className="link"
                aria-label={`Remove member ${m.subject}`}
                onClick={() => void act(() => api.del<Area>(`/workspace/areas/${area.id}/members/${encodeURIComponent(m.subject)}`))}
              >
                remove
              </button>
            )}
          </li>
        ))}
      </ul>
      {canEdit && (
        <form className="row" onSubmit={add}>
          <label htmlFor="member-subject">User (subject)</label>
          <input id="member-subject" value={subject} onChange={(e) => setSubject(e.target.value)} />
          <label className="check">
            <input type="checkbox" checked={isAdmin} onChange={(e) => setIsAdmin(e.target.checked)} /> admin
          </label>
          <button type="submit">Add member</button>
        </form>
      )}
      <h3>Peers</h3>
      <ul>
        {(area.peers ?? []).map((p) => (
          <li key={p.peer}>
            {p.peer}{' '}
            {canEdit && (
              <button
                type="button"
                className="link"
                aria-label={`Remove peer ${p.peer}`}
                onClick={() => void act(() => api.del<Area>(`/workspace/areas/${area.id}/peers/${encodeURIComponent(p.peer)}`))}
              >
                remove
              </button>
            )}
          </li>
        ))}
        {(area.peers ?? []).length === 0 && <li className="muted">No member peer.</li>}
      </ul>
      {canEdit && (
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault()
            void act(() => api.post<Area>(`/workspace/areas/${area.id}/peers`, { peer })).then(() => setPeer(''))
          }}
        >
          <label htmlFor="area-peer">Peer id</label>
          <input id="area-peer" value={peer} onChange={(e) => setPeer(e.target.value)} />
          <button type="submit">Add peer</button>
        </form>
      )}
    </section>
  )
}

function Rules({ area, canEdit, act }: { area: Area; canEdit: boolean; act: Act }) {
  const [rules, setRules] = useState<Rule[]>(() => (area.rules ?? []).map(({ stamp: _stamp, ...r }) => r))
  const [kind, setKind] = useState<RuleKind>('open_source_processings')
  const [values, setValues] = useState('')
  const changed = JSON.stringify(rules) !== JSON.stringify((area.rules ?? []).map(({ stamp: _stamp, ...r }) => r))
  const add = () => {
    const list = values.split(',').map((x) => x.trim()).filter(Boolean)
    const r: Rule = { kind }
    if (kind === 'jurisdictions') r.jurisdictions = list
    if (kind === 'compute_peers') r.peers = list
    setRules([...rules, r])
    setValues('')
  }
  return (
    <section className="panel" aria-labelledby="rules-h">
      <h2 id="rules-h">Rule book</h2>
      {rules.length === 0 && <p className="muted">No rule: anything may be shared.</p>}
      <ol>
        {rules.map((r, i) => (
          <li key={r.id ?? `new-${i}`}>
            {RULE_WORDS[r.kind]}
            {r.jurisdictions?.length ? `: ${r.jurisdictions.join(', ')}` : ''}
            {r.peers?.length ? `: ${r.peers.join(', ')}` : ''}{' '}
            {canEdit && (
              <button type="button" className="link" onClick={() => setRules(rules.filter((_, j) => j !== i))} aria-label={`Remove rule ${i + 1}`}>
                remove
              </button>
            )}
          </li>
        ))}
      </ol>
      {canEdit && (
        <>
          <div className="row">
            <label htmlFor="rule-kind">Rule</label>
            <select id="rule-kind" value={kind} onChange={(e) => setKind(e.target.value as RuleKind)}>
              {RULE_KINDS.map((k) => (
                <option key={k} value={k}>
                  {RULE_WORDS[k]}
                </option>
              ))}
            </select>
            {(kind === 'jurisdictions' || kind === 'compute_peers') && (
              <>
                <label htmlFor="rule-values">{kind === 'jurisdictions' ? 'Jurisdictions (FR, EU…)' : 'Peers'}</label>
                <input id="rule-values" value={values} onChange={(e) => setValues(e.target.value)} />
              </>
            )}
            <button type="button" onClick={add}>
              Add rule
            </button>
          </div>
          <p>
            <button
              type="button"
              className="primary"
              disabled={!changed}
              onClick={() => void act(() => api.put<{ area: Area; report: Report }>(`/workspace/areas/${area.id}/rules`, { rules }, { version: area.version }))}
            >
              Save the rule book
            </button>
          </p>
        </>
      )}
    </section>
  )
}

function Shared({ area, act }: { area: Area; act: Act }) {
  const [kind, setKind] = useState<SharedKind>('workflow')
  const [item, setItem] = useState('')
  const options = useAsync(
    async (signal): Promise<{ id: string; peer?: string; name: string }[]> => {
      if (kind === 'workspace') return ((await api.get<Page<Workspace>>('/workspace/workspaces', { owner: 'me', limit: 200 }, signal)).items ?? []).map((w) => ({ id: w.id, name: w.name }))
      if (kind === 'workflow') return ((await api.get<Page<Workflow>>('/workflow/workflows', { owner: 'me', limit: 200 }, signal)).items ?? []).map((w) => ({ id: w.id, name: w.name }))
      return ((await api.get<Page<Resource>>('/catalog/resources', { limit: 200 }, signal)).items ?? []).map((r) => ({ id: r.id, peer: r.peer_id, name: `${r.name} (${r.kind})` }))
    },
    [kind],
  )
  const chosen = options.data?.find((o) => o.id === item) ?? options.data?.[0]
  const link = (k: SharedKind, rid: string) => (k === 'workflow' ? `/workflows/${rid}` : k === 'workspace' ? `/workspaces/${rid}` : `/resources/${rid}`)
  return (
    <section className="panel" aria-labelledby="shared-h">
      <h2 id="shared-h">Shared in this area</h2>
      <ul>
        {(area.shared ?? []).map((s) => (
          <li key={`${s.kind}/${s.ref.peer}/${s.ref.id}`}>
            {s.kind}: <Link to={link(s.kind, s.ref.id)}>{s.name || s.ref.id}</Link> <span className="muted small">
              by <Who sub={s.stamp.by} />
            </span>{' '}
            <button
              type="button"
              className="link"
              aria-label={`Stop sharing ${s.name || s.ref.id}`}
              onClick={() =>
                void act(() => api.del<Area>(`/workspace/areas/${area.id}/shared/${s.kind}/${encodeURIComponent(s.ref.peer ?? '')}/${encodeURIComponent(s.ref.id)}`))
              }
            >
              stop sharing
            </button>
          </li>
        ))}
        {(area.shared ?? []).length === 0 && <li className="muted">Nothing is shared yet.</li>}
      </ul>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault()
          if (chosen) void act(() => api.post<Area>(`/workspace/areas/${area.id}/shared`, { kind, ref: { peer: chosen.peer, id: chosen.id } }))
        }}
      >
        <label htmlFor="share-kind">Share a</label>
        <select id="share-kind" value={kind} onChange={(e) => (setKind(e.target.value as SharedKind), setItem(''))}>
          <option value="workflow">workflow</option>
          <option value="workspace">workspace</option>
          <option value="resource">resource</option>
        </select>
        <label htmlFor="share-item" className="visually-hidden">
          Item to share
        </label>
        <select id="share-item" value={chosen?.id ?? ''} onChange={(e) => setItem(e.target.value)}>
          {(options.data ?? []).map((o) => (
            <option key={o.id} value={o.id}>
              {o.name}
            </option>
          ))}
        </select>
        <button type="submit" disabled={!chosen}>
          Share
        </button>
      </form>
    </section>
  )
}
