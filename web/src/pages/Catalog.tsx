import { useState, type FormEvent } from 'react'
import { Link, useSearchParams } from 'react-router'
import { api } from '../api/client'
import { KINDS, VISIBILITIES, type Page, type Resource } from '../api/types'
import { ErrorBox, KindBadge, Loading, Pager, Title } from '../components/ui'
import {
  apiQuery,
  count,
  PAGE_SIZE,
  readFilter,
  SORTS,
  toggle,
  toggleTag,
  writeFilter,
  type CatalogFilter,
} from '../lib/catalogFilter'
import { useAsync } from '../lib/useAsync'

interface Listing {
  page: Page<Resource>
  kinds: Map<string, number>
}

export function Catalog() {
  const [params, setParams] = useSearchParams()
  const filter = readFilter(params)
  const key = writeFilter(filter).toString()
  const set = (f: CatalogFilter) => setParams(writeFilter(f))
  const [q, setQ] = useState(filter.q)

  const listing = useAsync<Listing>(async (signal) => {
    // The kind facet's counts: one count per kind, with the other filters.
    const [page, ...counts] = await Promise.all([
      api.get<Page<Resource>>('/catalog/resources', apiQuery(filter), signal),
      ...KINDS.map((k) =>
        api.get<Page<Resource>>('/catalog/resources', { ...apiQuery(filter, 'kind'), kind: k, limit: 1, offset: 0 }, signal),
      ),
    ])
    return { page, kinds: new Map(KINDS.map((k, i) => [k, counts[i].total])) }
  }, [key])

  const all = listing.data?.page.items ?? []
  const items = filter.peer ? all.filter((r) => r.peer_id === filter.peer) : all
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
                    {k} <span className="muted">({listing.data?.kinds.get(k) ?? '…'})</span>
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
              {count(all, (r) => r.peer_id).map(([p, n]) => (
                <li key={p}>
                  <label className="check">
                    <input type="checkbox" checked={filter.peer === p} onChange={() => set(toggle(filter, 'peer', p))} />
                    {p} <span className="muted">({n})</span>
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
              <p className="muted" role="status">
                {listing.data?.page.total ?? 0} resource{listing.data?.page.total === 1 ? '' : 's'}
                {filter.q && ` matching “${filter.q}”`}
              </p>
              <ul className="cards">
                {items.map((r) => (
                  <li key={r.id} className="card">
                    <div className="spread">
                      <h3>
                        <Link to={`/resources/${r.id}`}>{r.name}</Link>
                      </h3>
                      <KindBadge kind={r.kind} />
                    </div>
                    {r.short_description && <p className="small">{r.short_description}</p>}
                    <div className="small muted">
                      {r.visibility} · peer {r.peer_id} · {r.pricing?.model ?? 'free'}
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
