import { useId, useState, type FormEvent } from 'react'
import { useSearchParams } from 'react-router'
import {
  addPeer,
  getSelf,
  listPeerPage,
  peerAction,
  RELATIONS,
  removePeer,
  setGroups,
  type Added,
  type Peer,
  type PeerAction,
  type Relation,
} from '../api/peers'
import { useAuth } from '../auth/context'
import { Badge, ErrorBox, Field, fieldErrors, Loading, Pager, Time, Title } from '../components/ui'
import { splitList } from '../lib/format'
import { acceptAction, HEALTH_TEXT, millis, PENDING_TEXT, RELATION_HELP, RELATION_TEXT } from '../lib/peers'
import { useAsync } from '../lib/useAsync'

const LIMIT = 20

export default function Peers() {
  const { admin } = useAuth()
  const [params, setParams] = useSearchParams()
  const relation = RELATIONS.find((r) => r === params.get('relation'))
  const group = params.get('group') ?? ''
  const q = params.get('q') ?? ''
  const offset = Math.max(0, Number(params.get('offset') ?? '0') || 0)
  const update = (patch: Record<string, string | undefined>) => {
    const p = new URLSearchParams(params)
    for (const [k, v] of Object.entries(patch)) {
      if (v) p.set(k, v)
      else p.delete(k)
    }
    if (!('offset' in patch)) p.delete('offset')
    setParams(p)
  }
  const list = useAsync((signal) => listPeerPage({ relation, group: group || undefined, q: q || undefined, limit: LIMIT, offset }, signal), [params.toString()])
  return (
    <>
      <Title>Peers</Title>
      <p className="muted">
        The other OpenCloud peers this one knows. Partners search each other’s catalogs (what is shared with partners) and run each other’s steps;
        a partnership needs both administrators’ yes, and a blocked peer is refused.
      </p>
      <Identity />
      {admin ? (
        <AddPeer onChange={list.reload} />
      ) : (
        <p className="notice">Only administrators add peers, decide partnerships and block peers; here you see what they decided.</p>
      )}
      <section aria-labelledby="peers-h">
        <h2 id="peers-h">Known peers</h2>
        <Filters relation={relation} group={group} q={q} onChange={update} />
        <ErrorBox error={list.error} title="The peers could not be read" />
        {list.loading && !list.data ? (
          <Loading />
        ) : (
          <>
            <p className="muted" role="status">
              {list.data?.total ?? 0} peer{list.data?.total === 1 ? '' : 's'}
              {(relation || group || q) && ' matching the filters'}
            </p>
            <ul className="cards">
              {(list.data?.items ?? []).map((p) => (
                <PeerCard key={p.id} peer={p} admin={admin} onChange={list.reload} />
              ))}
            </ul>
            <Pager offset={offset} limit={LIMIT} total={list.data?.total ?? 0} onPage={(o) => update({ offset: String(o) })} />
          </>
        )}
      </section>
    </>
  )
}

/** Identity is this peer's id and key fingerprint, which the other administrator compares. */
function Identity() {
  const self = useAsync((signal) => getSelf(signal), [])
  const d = self.data?.doc
  return (
    <section className="panel" aria-labelledby="self-h">
      <h2 id="self-h" style={{ marginTop: 0 }}>
        This peer
      </h2>
      <ErrorBox error={self.error} title="This peer’s identity could not be read" />
      {!d ? (
        !self.error && <Loading />
      ) : (
        <>
          <dl className="facts">
            <dt>Name</dt>
            <dd>{d.name}</dd>
            <dt>Peer id</dt>
            <dd className="mono">{d.id}</dd>
            <dt>URL</dt>
            <dd className="mono">{d.url}</dd>
            <dt>Key fingerprint</dt>
            <dd className="fingerprint">
              {self.data?.fingerprint || '—'}
            </dd>
          </dl>
          <p className="small muted">
            When another peer’s administrator adds this one by its URL, read them this fingerprint (by phone or in person): they compare it with what
            their page shows before accepting a partnership.
          </p>
        </>
      )}
    </section>
  )
}

function Filters({ relation, group, q, onChange }: { relation?: Relation; group: string; q: string; onChange: (p: Record<string, string | undefined>) => void }) {
  const [text, setText] = useState(q)
  const [grp, setGrp] = useState(group)
  const submit = (e: FormEvent) => {
    e.preventDefault()
    onChange({ q: text.trim(), group: grp.trim() })
  }
  return (
    <form className="panel row" aria-label="Filter the peers" onSubmit={submit}>
      <div>
        <label htmlFor="pf-relation">Relation</label>
        <select id="pf-relation" value={relation ?? ''} onChange={(e) => onChange({ relation: e.target.value })}>
          <option value="">Any relation</option>
          {RELATIONS.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="pf-group">Group</label>
        <input id="pf-group" value={grp} onChange={(e) => setGrp(e.target.value)} placeholder="eu-labs" />
      </div>
      <div style={{ flex: 1 }}>
        <label htmlFor="pf-q">Name or URL</label>
        <input id="pf-q" type="search" value={text} onChange={(e) => setText(e.target.value)} style={{ width: '100%' }} />
      </div>
      <button type="submit" style={{ alignSelf: 'flex-end' }}>
        Filter
      </button>
    </form>
  )
}

/** AddPeer adds a peer by URL and asks the administrator to compare its fingerprint before accepting. */
function AddPeer({ onChange }: { onChange: () => void }) {
  const [url, setUrl] = useState('')
  const [groups, setGroupsText] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>()
  const [added, setAdded] = useState<Added>()
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    setAdded(undefined)
    try {
      setAdded(await addPeer(url.trim(), splitList(groups)))
      setUrl('')
      setGroupsText('')
      onChange()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }
  const errors = fieldErrors(error)
  return (
    <section className="panel" aria-labelledby="add-h">
      <h2 id="add-h" style={{ marginTop: 0 }}>
        Add a peer by URL
      </h2>
      <p className="small muted">
        This peer reads the other’s signed identity at its URL and pins its key. Nothing is shared with it until both administrators accept a
        partnership.
      </p>
      <form onSubmit={(e) => void submit(e)} aria-label="Add a peer by URL">
        <div className="grid2">
          <Field label="URL of the peer" name="url" errors={errors} hint="The address its users open, such as https://opencloud.lab-b.example.org">
            {(p) => <input {...p} type="url" required value={url} onChange={(e) => setUrl(e.target.value)} />}
          </Field>
          <Field label="Groups" name="groups" errors={errors} hint="Comma-separated, optional: for resources shared with groups of peers">
            {(p) => <input {...p} value={groups} onChange={(e) => setGroupsText(e.target.value)} />}
          </Field>
        </div>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Reading its identity…' : 'Add peer'}
        </button>
      </form>
      <ErrorBox error={error} title="The peer could not be added" />
      {added && <Compare added={added} onChange={onChange} onDone={() => setAdded(undefined)} setPeer={(peer) => setAdded({ ...added, peer })} />}
    </section>
  )
}

/** Compare shows a peer just added, its fingerprint first, and what to do once compared. */
function Compare({ added, onChange, onDone, setPeer }: { added: Added; onChange: () => void; onDone: () => void; setPeer: (p: Peer) => void }) {
  const p = added.peer
  const name = p.name || p.id
  const id = useId()
  const accept = acceptAction(p)
  const act = usePeerActions(p, () => onChange())
  return (
    <section className="notice compare" aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`} style={{ marginTop: 0 }}>
        Compare the fingerprint of {name}
      </h3>
      <p role="status">
        {added.created ? `${name} was added: it is known, not yet a partner.` : `${name} was known already (${p.relation}); its URL is updated.`}
      </p>
      <p className="fingerprint">
        {p.fingerprint}
      </p>
      <p>
        <strong>Before accepting, compare it</strong> with the fingerprint the administrator of {name} reads on their own Peers page, under “This
        peer”: by phone or in person, not by the message that brought you the URL. If a single character differs, another server answered at
        that URL: remove it.
      </p>
      <div className="row">
        {accept.allowed ? (
          <button type="button" className="primary" onClick={() => void act.run('accept').then((q) => q && setPeer(q))}>
            They match: {accept.label.toLowerCase()}
          </button>
        ) : (
          <span>{accept.why}</span>
        )}
        <button type="button" className="danger" onClick={() => void act.remove().then((ok) => ok && onDone())}>
          They differ: remove {name}
        </button>
        <button type="button" onClick={onDone}>
          Close
        </button>
      </div>
      <ErrorBox error={act.error} />
    </section>
  )
}

function confirmText(p: Peer, what: PeerAction | 'remove'): string | undefined {
  const name = p.name || p.id
  switch (what) {
    case 'block':
      return `Block ${name}? Every call it makes to this peer is refused from now on${p.relation === 'partner' ? ', and the partnership ends' : ''}.`
    case 'unblock':
      return `Unblock ${name}? It becomes known again; a partnership must be accepted anew.`
    case 'remove':
      return `Remove ${name}? Its pinned key is forgotten and it sees nothing shared with partners any more; adding it again means comparing its fingerprint again.`
  }
  return undefined
}

/** usePeerActions runs a peer's actions (confirmed where they cut something off) and keeps their error. */
function usePeerActions(p: Peer, onChange: () => void) {
  const [error, setError] = useState<unknown>()
  const [busy, setBusy] = useState(false)
  const guard = async <T,>(what: PeerAction | 'remove', f: () => Promise<T>): Promise<T | undefined> => {
    const ask = confirmText(p, what)
    if (ask && !window.confirm(ask)) return undefined
    setBusy(true)
    setError(undefined)
    try {
      const out = await f()
      onChange()
      return out
    } catch (err) {
      setError(err)
      return undefined
    } finally {
      setBusy(false)
    }
  }
  return {
    error,
    busy,
    run: (a: PeerAction) => guard(a, () => peerAction(p, a)),
    remove: () => guard('remove', () => removePeer(p).then(() => true)),
  }
}

function PeerCard({ peer: p, admin, onChange }: { peer: Peer; admin: boolean; onChange: () => void }) {
  const id = useId()
  const name = p.name || p.id
  const rel = RELATION_TEXT[p.relation] ?? { icon: '•', text: p.relation }
  const health = HEALTH_TEXT[p.status?.health ?? 'unknown'] ?? HEALTH_TEXT.unknown
  const [editing, setEditing] = useState(false)
  const act = usePeerActions(p, onChange)
  const accept = acceptAction(p)
  return (
    <li className="card">
      <div className="spread">
        <h3 id={`${id}-h`}>{name}</h3>
        <Badge state={p.relation} icon={rel.icon} text={rel.text} />
      </div>
      <p className="small muted">{RELATION_HELP[p.relation]}</p>
      {p.pending && PENDING_TEXT[p.pending] && <p className="warning small">{PENDING_TEXT[p.pending]}</p>}
      <dl className="facts small">
        <dt>Health</dt>
        <dd>
          <Badge state={p.status?.health ?? 'unknown'} icon={health.icon} text={health.text} />
          {p.status?.last_seen && (
            <>
              {' '}
              last seen <Time iso={p.status.last_seen} />
            </>
          )}
          {p.status?.rtt_ms !== undefined && p.status.health === 'online' && <> · round trip {millis(p.status.rtt_ms)}</>}
          {p.status?.health === 'offline' && p.status.last_error && <div className="error-text">{p.status.last_error}</div>}
        </dd>
        <dt>URL</dt>
        <dd className="mono">{p.url}</dd>
        <dt>Peer id</dt>
        <dd className="mono">{p.id}</dd>
        <dt>Key fingerprint</dt>
        <dd className="mono">{p.fingerprint}</dd>
        <dt>Groups</dt>
        <dd>
          {(p.groups ?? []).length === 0
            ? 'none'
            : (p.groups ?? []).map((g) => (
                <span key={g} className="tag">
                  {g}
                </span>
              ))}
        </dd>
        {(p.offers ?? []).length > 0 && (
          <>
            <dt>Offers</dt>
            <dd>{(p.offers ?? []).join(', ')}</dd>
          </>
        )}
        <dt>Added</dt>
        <dd>
          <Time iso={p.added_at} />
        </dd>
      </dl>
      {admin && (
        <div className="row" role="group" aria-label={`Actions on ${name}`} style={{ marginTop: '0.6rem' }}>
          {p.relation !== 'blocked' &&
            (accept.allowed ? (
              <button type="button" className="primary" disabled={act.busy} onClick={() => void act.run('accept')}>
                {accept.label}
              </button>
            ) : (
              <>
                <button type="button" disabled aria-describedby={`${id}-why`}>
                  {accept.label}
                </button>
                <span id={`${id}-why`} className="small muted">
                  {accept.why}
                </span>
              </>
            ))}
          <button type="button" disabled={act.busy} onClick={() => setEditing(!editing)} aria-expanded={editing}>
            Edit groups
          </button>
          {p.relation === 'blocked' ? (
            <button type="button" disabled={act.busy} onClick={() => void act.run('unblock')}>
              Unblock
            </button>
          ) : (
            <button type="button" className="danger" disabled={act.busy} onClick={() => void act.run('block')}>
              Block
            </button>
          )}
          <button type="button" className="danger" disabled={act.busy} onClick={() => void act.remove()}>
            Remove
          </button>
        </div>
      )}
      {editing && (
        <EditGroups
          peer={p}
          onDone={() => {
            setEditing(false)
            onChange()
          }}
          onCancel={() => setEditing(false)}
        />
      )}
      <ErrorBox error={act.error} title={name} />
    </li>
  )
}

function EditGroups({ peer: p, onDone, onCancel }: { peer: Peer; onDone: () => void; onCancel: () => void }) {
  const [text, setText] = useState((p.groups ?? []).join(', '))
  const [error, setError] = useState<unknown>()
  const save = async (e: FormEvent) => {
    e.preventDefault()
    setError(undefined)
    try {
      await setGroups(p, splitList(text))
      onDone()
    } catch (err) {
      setError(err)
    }
  }
  return (
    <form onSubmit={(e) => void save(e)} style={{ marginTop: '0.6rem' }}>
      <Field label={`Groups of ${p.name || p.id}`} name="groups" errors={fieldErrors(error)} hint="Comma-separated; empty: no group">
        {(f) => <input {...f} value={text} onChange={(e) => setText(e.target.value)} />}
      </Field>
      <div className="row">
        <button type="submit" className="primary">
          Save groups
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <ErrorBox error={error} />
    </form>
  )
}
