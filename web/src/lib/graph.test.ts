import { describe, expect, it } from 'vitest'
import type { Graph } from '../api/types'
import { fromFlow, layout, linkKind, newId, place, toFlow, whyNot, withProblems } from './graph'

const threeSteps: Graph = {
  nodes: [
    { id: 'a', kind: 'processing', resource: { peer: 'local', id: 'r-echo' } },
    { id: 'b', kind: 'processing', resource: { peer: 'local', id: 'r-echo' }, name: 'Second' },
    { id: 'c', kind: 'processing', resource: { peer: 'local', id: 'r-echo' }, position: { x: 5, y: 7 } },
    { id: 'k8s', kind: 'compute', resource: { peer: 'local', id: 'r-node' } },
  ],
  links: [
    { id: 'ab', kind: 'dependency', from: 'a', to: 'b' },
    { id: 'bc', kind: 'dependency', from: 'b', to: 'c' },
    { id: 'ak', kind: 'compute', from: 'a', to: 'k8s' },
    { id: 'ck', kind: 'compute', from: 'c', to: 'k8s' },
  ],
}

describe('link rules', () => {
  it('follow oc-workflow: the kind comes from both ends', () => {
    expect(linkKind('data', 'processing')).toBe('data')
    expect(linkKind('processing', 'processing')).toBe('dependency')
    expect(linkKind('storage', 'processing')).toBe('storage_read')
    expect(linkKind('processing', 'storage')).toBe('storage_write')
    expect(linkKind('processing', 'compute')).toBe('compute')
  })
  it.each([
    ['data', 'compute', 'a data links only to processing'],
    ['compute', 'processing', 'a compute has no outgoing link: link into it instead'],
    ['processing', 'data', 'a processing links only to processing or storage or compute'],
    ['storage', 'storage', 'a storage links only to processing'],
  ] as const)('refuse %s → %s', (from, to, why) => {
    expect(linkKind(from, to)).toBeUndefined()
    expect(whyNot(from, to)).toBe(why)
  })
})

describe('graph ↔ flow', () => {
  it('comes back the same, with positions and the names set by hand', () => {
    const names = new Map([['r-echo', 'Echo']])
    const { nodes, edges } = toFlow(threeSteps, names)
    expect(nodes.map((n) => n.data.label)).toEqual(['Echo', 'Second', 'Echo', 'k8s'])
    expect(nodes[2].position).toEqual({ x: 5, y: 7 })
    expect(edges[2]).toMatchObject({ id: 'ak', source: 'a', target: 'k8s', label: 'runs on' })
    const back = fromFlow(nodes, edges)
    // Names shown but not set by hand are sent as names: the label a person saw.
    expect(back.nodes?.map((n) => n.name)).toEqual(['Echo', 'Second', 'Echo', undefined])
    expect(back.nodes?.map(({ id, kind, resource }) => ({ id, kind, resource }))).toEqual(
      threeSteps.nodes?.map(({ id, kind, resource }) => ({ id, kind, resource })),
    )
    expect(back.links).toEqual(threeSteps.links)
    expect(back.nodes?.every((n) => n.position)).toBe(true)
  })

  it('keeps the storage paths of a link', () => {
    const g: Graph = {
      nodes: [
        { id: 'p', kind: 'processing' },
        { id: 's', kind: 'storage' },
      ],
      links: [{ id: 'w', kind: 'storage_write', from: 'p', to: 's', source: '/out', destination: 'results/' }],
    }
    const { nodes, edges } = toFlow(g)
    expect(fromFlow(nodes, edges).links).toEqual(g.links)
  })
})

describe('layout', () => {
  it('puts each node right of what links into it', () => {
    const pos = layout(threeSteps)
    const x = (id: string) => pos.get(id)?.x ?? -1
    expect(x('a')).toBeLessThan(x('b'))
    expect(x('b')).toBeLessThan(x('c'))
    expect(x('c')).toBeLessThan(x('k8s'))
    expect(new Set([...pos.values()].map((p) => `${p.x},${p.y}`)).size).toBe(4)
  })
  it('ends on a cycle', () => {
    const pos = layout({
      nodes: [
        { id: 'a', kind: 'processing' },
        { id: 'b', kind: 'processing' },
      ],
      links: [
        { id: '1', kind: 'dependency', from: 'a', to: 'b' },
        { id: '2', kind: 'dependency', from: 'b', to: 'a' },
      ],
    })
    expect(pos.size).toBe(2)
  })
})

describe('place', () => {
  it('puts each problem on its node or link, by id or by field path', () => {
    const problems = [
      { code: 'no_compute', node: 'b', message: 'processing "b" has no compute' },
      { code: 'invalid_id', field: 'graph.nodes[2].resource.id', message: 'unknown resource' },
      { code: 'dangling_link', link: 'bc', message: 'x' },
      { code: 'bad_link', field: 'graph.links[3].kind', message: 'y' },
      { code: 'name', field: 'name', message: 'a name is required' },
      { code: 'ghost', node: 'zz', message: 'a node that is not drawn' },
    ]
    const placed = place(threeSteps, problems)
    expect([...placed.byNode.keys()]).toEqual(['b', 'c'])
    expect(placed.byNode.get('c')?.[0].code).toBe('invalid_id')
    expect([...placed.byLink.keys()]).toEqual(['bc', 'ck'])
    expect(placed.general.map((p) => p.code)).toEqual(['name', 'ghost'])

    const flow = toFlow(threeSteps)
    const { nodes, edges } = withProblems(flow.nodes, flow.edges, placed)
    expect(nodes.find((n) => n.id === 'b')?.data.problems).toHaveLength(1)
    expect(nodes.find((n) => n.id === 'a')?.data.problems).toHaveLength(0)
    expect(edges.find((e) => e.id === 'bc')).toMatchObject({ className: 'edge-problem', label: '⚠ then' })
  })
})

describe('newId', () => {
  it('makes an id oc-workflow accepts, unused so far', () => {
    expect(newId('NDVI over Paris!', new Set())).toBe('ndvi-over-paris')
    expect(newId('Echo', new Set(['echo', 'echo-2']))).toBe('echo-3')
    expect(newId('***', new Set())).toBe('node')
  })
})
