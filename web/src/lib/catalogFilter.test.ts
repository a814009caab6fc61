import { describe, expect, it } from 'vitest'
import { apiQuery, count, readFilter, searchQuery, toggle, toggleIn, toggleTag, writeFilter } from './catalogFilter'

describe('catalog filter in the URL', () => {
  it('reads back what it wrote', () => {
    const f = readFilter(new URLSearchParams('q=tiles&kind=data&tag=survey&tag=fr&owner=me&sort=-updated_at&page=3'))
    expect(f).toEqual({ q: 'tiles', kind: 'data', tags: ['survey', 'fr'], owner: 'me', visibility: undefined, partners: false, peers: [], sort: '-updated_at', page: 3 })
    expect(readFilter(writeFilter(f))).toEqual(f)
    expect(writeFilter(f).toString()).toBe('q=tiles&kind=data&tag=survey&tag=fr&owner=me&sort=-updated_at&page=3')
  })
  it('ignores what it does not know', () => {
    expect(readFilter(new URLSearchParams('kind=planet&sort=drop&page=-2&visibility=x'))).toMatchObject({
      kind: undefined,
      sort: 'name',
      page: 1,
      visibility: undefined,
    })
    expect(writeFilter(readFilter(new URLSearchParams(''))).toString()).toBe('')
  })
  it('asks the catalog for the page shown', () => {
    const f = readFilter(new URLSearchParams('kind=data&tag=a&page=2'))
    expect(apiQuery(f)).toMatchObject({ kind: 'data', tag: ['a'], limit: 20, offset: 20, sort: 'name' })
    // A facet's own counts are asked without its own filter.
    expect(apiQuery(f, 'kind').kind).toBeUndefined()
  })
  it('keeps the search across partners and its peers', () => {
    const f = readFilter(new URLSearchParams('q=x&partners=1&peer=a&peer=b'))
    expect(f).toMatchObject({ partners: true, peers: ['a', 'b'] })
    expect(writeFilter(f).toString()).toBe('q=x&partners=1&peer=a&peer=b')
    expect(searchQuery(f)).toMatchObject({ q: 'x', peer: ['a', 'b'], limit: 20, offset: 0 })
    // This peer's own catalog is not asked for peers.
    expect(apiQuery(f).peer).toBeUndefined()
    expect(toggleIn(toggleIn(f, 'peers', 'a'), 'peers', 'c').peers).toEqual(['b', 'c'])
  })
  it('toggles facets back to the first page', () => {
    const f = readFilter(new URLSearchParams('kind=data&page=4'))
    expect(toggle(f, 'kind', 'data')).toMatchObject({ kind: undefined, page: 1 })
    expect(toggle(f, 'kind', 'compute')).toMatchObject({ kind: 'compute', page: 1 })
    expect(toggleTag(toggleTag(f, 'x'), 'y').tags).toEqual(['x', 'y'])
    expect(toggleTag(toggleTag(f, 'x'), 'x').tags).toEqual([])
  })
  it('counts facet values', () => {
    expect(count([{ t: ['a', 'b'] }, { t: ['b'] }, { t: [] }], (x) => x.t)).toEqual([
      ['b', 2],
      ['a', 1],
    ])
  })
})
