import { useState, type FormEvent } from 'react'
import { Link, useSearchParams } from 'react-router'
import { api } from '../api/client'
import { getSelf, listPeers, searchCatalog, type SearchResult } from '../api/peers'
import { KINDS, VISIBILITIES, type Page, type Resource } from '../api/types'
import { Badge, ErrorBox, KindBadge, Loading, Pager, Title } from '../components/ui'
import {
  apiQuery,
  count,
  PAGE_SIZE,
  readFilter,
  searchQuery,
  SORTS,
  toggle,
  toggleIn,
  toggleTag,
  writeFilter,
  type CatalogFilter,
} from '../lib/catalogFilter'
import { missing, searchState } from '../lib/peers'
import { useAsync } from '../lib/useAsync'

interface Listing {
  page: Page<Resource>
  /** kinds are the kind facet's counts (this peer's catalog only). */
  kinds?: Map<string, number>
  /** search is the answer of the search across partners. */
  search?: SearchResult
}

interface PeerChoice {
  id: string
  name: string
  self?: boolean
}

export function Catalog() {
  const [params, setParams] = useSearchParams()
  const filter = readFilter(params)
  const key = writeFilter(filter).toString()
  const set = (f: CatalogFilter) => setParams(writeFilter(f))
  const [q, setQ] = useState(filter.q)

  const listing = useAsync<Listing>(async (signal) => {
    if (filter.partners) {
      const search = await searchCatalog(searchQuery(filter), signal)
      return { page: search, search }
    }
    // The kind facet's counts: one count per kind, with the other filters.
    const [page, ...counts] = await Promise.all([
      api.get<Page<Resource>>('/catalog/resources', apiQuery(filter), signal),
      ...KINDS.map((k) =>
        api.get<Page<Resource>>('/catalog/resources', { ...apiQuery(filter, 'kind'), kind: k, limit: 1, offset: 0 }, signal),
      ),
    ])
    return { page, kinds: new Map(KINDS.map((k, i) => [k, counts[i].total])) }
  }, [key])

  // The peers a search across partners may ask: this peer and its partners.
  const choices = useAsync<PeerChoice[]>(async (signal) => {
    if (!filter.partners) return []
    const [self, partners] = await Promise.all([getSelf(signal), listPeers(signal, 'partner')])
    return [{ id: self.doc.id, name: self.doc.name, self: true }, ...(partners ?? []).map((p) => ({ id: p.id, name: p.name || p.id }))]
  }, [filter.partners])

  const all = listing.data?.page.items ?? []
  const found = listing.data?.search
  const answered = found?.peers ?? []
  const items = !found && filter.peers.length ? all.filter((r) => filter.peers.includes(r.peer_id)) : all
  const names = new Map<string, PeerChoice>([...(choices.data ?? []), ...answered.map((p) => ({ id: p.peer, name: p.name || p.peer, self: p.self }))].map((p) => [p.id, p]))
  const peerFacet: [string, string, number | undefined][] = found
    ? [...names.values()].map((p) => [p.id, p.self ? `${p.name} (this peer)` : p.name, answered.find((a) => a.peer === p.id && a.state === 'answered')?.total])
    : count(all, (r) => r.peer_id).map(([p, n]) => [p, p, n])
  const owner = (r: Resource) => {
    const p = names.get(r.peer_id)
    if (!p) return `peer ${r.peer_id}`
    return p.self ? `this peer (${p.name})` : `from ${p.name}`
  }
  const link = (r: Resource) => {
    const p = names.get(r.peer_id)
    return p && !p.self ? `/resources/${r.id}?peer=${encodeURIComponent(r.peer_id)}` : `/resources/${r.id}`
  }
  const search = (e: FormEvent) => {
    e.preventDefault()
    set({ ...filter, q, page: 1 })
  }

  return (
    <>
      <Title actions={<Link className="button primary" to="/resources/new">New resource</Link>}>Catalog</Title>
      <form role="search" className="row panel" onSubmit={search}>
        <label htmlFor="catalog-q" className="visually-hidden">
          Search the catalog
        </label>
        <input id="catalog-q" type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="Search names, descriptions and tags" style={{ flex: 1 }} />
        <button type="submit" className="primary">
          Search
        </button>
        <label className="check">
          <input type="checkbox" checked={filter.partners} onChange={() => set({ ...filter, partners: !filter.partners, peers: [], page: 1 })} />
          Search partners too
        </label>
        <label htmlFor="catalog-sort" className="visually-hidden">
          Sort by
        </label>
        <select id="catalog-sort" value={filter.sort} onChange={(e) => set({ ...filter, sort: e.target.value, page: 1 })}>
          {Object.entries(SORTS).map(([v, t]) => (
            <option key={v} value={v}>
              Sort: {t}
            </option>
          ))}
        </select>
      </form>
      <div className="catalog">
        <aside className="facets" aria-label="Filters">
          <fieldset>
            <legend>Kind</legend>
            <ul>
              {KINDS.map((k) => (
                <li key={k}>
                  <label className="check">
                    <input type="checkbox" checked={filter.kind === k} onChange={() => set(toggle(filter, 'kind', k))} />
                    {k}
                    {!filter.partners && <span className="muted">({listing.data?.kinds?.get(k) ?? '…'})</span>}
                  </label>
                </li>
              ))}
            </ul>
          </fieldset>
          <fieldset>
            <legend>Owner</legend>
            <label className="check">
              <input type="checkbox" checked={filter.owner === 'me'} onChange={() => set(toggle(filter, 'owner', 'me'))} />
              Mine
            </label>
            <ul>
              {count(all, (r) => r.owners)
                .slice(0, 6)
                .map(([o, n]) => (
                  <li key={o}>
                    <label className="check">
                      <input type="checkbox" checked={filter.owner === o} onChange={() => set(toggle(filter, 'owner', o))} />
                      <span className="mono">{o}</span> <span className="muted">({n})</span>
                    </label>
                  </li>
                ))}
            </ul>
          </fieldset>
          <fieldset>
            <legend>Tags</legend>
            {filter.tags.length + all.length === 0 && <p className="muted small">No tags on this page.</p>}
            <ul>
              {[...new Set([...filter.tags, ...count(all, (r) => r.tags).map(([t]) => t)])].slice(0, 15).map((t) => (
                <li key={t}>
                  <label className="check">
                    <input type="checkbox" checked={filter.tags.includes(t)} onChange={() => set(toggleTag(filter, t))} />
                    {t}
                  </label>
                </li>
              ))}
            </ul>
          </fieldset>
          <fieldset>
            <legend>Peer</legend>
            <ul>
              {peerFacet.map(([p, label, n]) => (
                <li key={p}>
                  <label className="check">
                    <input type="checkbox" checked={filter.peers.includes(p)} onChange={() => set(toggleIn(filter, 'peers', p))} />
                    <span className={label === p ? 'mono' : undefined}>{label}</span>
                    {n !== undefined && <span className="muted">({n})</span>}
                  </label>
                </li>
              ))}
            </ul>
          </fieldset>
          <fieldset>
            <legend>Visibility</legend>
            <ul>
              {VISIBILITIES.map((v) => (
                <li key={v}>
                  <label className="check">
                    <input type="checkbox" checked={filter.visibility === v} onChange={() => set(toggle(filter, 'visibility', v))} />
                    {v}
                  </label>
                </li>
              ))}
            </ul>
          </fieldset>
        </aside>
        <section aria-labelledby="results-heading">
          <h2 id="results-heading" className="visually-hidden">
            Results
          </h2>
          <ErrorBox error={listing.error} />
          {listing.loading && !listing.data ? (
            <Loading />
          ) : (
            <>
              {found && (
                <ul className="peer-strip" aria-label="How each peer answered">
                  {answered.map((r) => {
                    const st = searchState(r)
                    return (
                      <li key={r.peer}>
                        <strong>{r.name || r.peer}</strong>
                        {r.self && ' (this peer)'} <Badge state={r.state} icon={st.icon} text={st.text} />
                        {r.state !== 'answered' && r.error && <div className="small muted">{r.error}</div>}
                      </li>
                    )
                  })}
                </ul>
              )}
              {found?.partial && (
                <p className="warning" role="status">
                  <strong>Partial results:</strong> no answer from {missing(answered)}: what is shared there is missing from this list. Search again in
                  a moment.
                </p>
              )}
              <p className="muted" role="status">
                {listing.data?.page.total ?? 0} resource{listing.data?.page.total === 1 ? '' : 's'}
                {filter.q && ` matching “${filter.q}”`}
                {found && ` across ${answered.filter((r) => r.state === 'answered').length} of ${answered.length} peers`}
              </p>
              <ul className="cards">
                {items.map((r) => (
                  <li key={`${r.peer_id}/${r.id}`} className="card">
                    <div className="spread">
                      <h3>
                        <Link to={link(r)}>{r.name}</Link>
                      </h3>
                      <KindBadge kind={r.kind} />
                    </div>
                    {r.short_description && <p className="small">{r.short_description}</p>}
                    <div className="small muted">
                      {r.visibility} · {owner(r)} · {r.pricing?.model ?? 'free'}
                    </div>
                    <div>
                      {(r.tags ?? []).map((t) => (
                        <span key={t} className="tag">
                          {t}
                        </span>
                      ))}
                    </div>
                  </li>
                ))}
              </ul>
              <Pager
                offset={(filter.page - 1) * PAGE_SIZE}
                limit={PAGE_SIZE}
                total={listing.data?.page.total ?? 0}
                onPage={(o) => set({ ...filter, page: o / PAGE_SIZE + 1 })}
              />
            </>
          )}
        </section>
      </div>
    </>
  )
}
