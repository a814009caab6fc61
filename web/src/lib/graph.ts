// A workflow's graph as oc-workflow stores it, and as the editor draws it
// (React Flow nodes and edges): the mapping both ways, the link rules, an
// automatic layout and where each validation problem belongs.

import type { Edge, Node } from '@xyflow/react'
import type { Graph, GraphLink, GraphNode, LinkKind, NodeKind, Problem, Ref, StepState } from '../api/types'

export interface NodeData extends Record<string, unknown> {
  kind: NodeKind
  label: string
  resource?: Ref
  problems: Problem[]
  /** state is a step's state on an execution's page. */
  state?: StepState
}

export interface EdgeData extends Record<string, unknown> {
  kind: LinkKind
  source?: string
  destination?: string
  problems: Problem[]
}

export type FlowNode = Node<NodeData, 'resource'>
export type FlowEdge = Edge<EdgeData>

/** The links oc-workflow allows: the kind follows from the kinds of both ends. */
const RULES: { from: NodeKind; to: NodeKind; kind: LinkKind }[] = [
  { from: 'data', to: 'processing', kind: 'data' },
  { from: 'processing', to: 'processing', kind: 'dependency' },
  { from: 'storage', to: 'processing', kind: 'storage_read' },
  { from: 'processing', to: 'storage', kind: 'storage_write' },
  { from: 'processing', to: 'compute', kind: 'compute' },
]

export function linkKind(from: NodeKind, to: NodeKind): LinkKind | undefined {
  return RULES.find((r) => r.from === from && r.to === to)?.kind
}

/** whyNot says why a link from → to is refused, or undefined when it is allowed. */
export function whyNot(from: NodeKind, to: NodeKind): string | undefined {
  if (linkKind(from, to)) return undefined
  const allowed = RULES.filter((r) => r.from === from).map((r) => r.to)
  if (allowed.length === 0) return `a ${from} has no outgoing link: link into it instead`
  return `a ${from} links only to ${[...new Set(allowed)].join(' or ')}`
}

export const LINK_LABELS: Record<LinkKind, string> = {
  data: 'data',
  dependency: 'then',
  storage_read: 'reads',
  storage_write: 'writes',
  compute: 'runs on',
}

export function toFlow(graph: Graph, names: Map<string, string> = new Map()): { nodes: FlowNode[]; edges: FlowEdge[] } {
  const nodes = graph.nodes ?? []
  const positions = layout(graph)
  return {
    nodes: nodes.map((n) => ({
      id: n.id,
      type: 'resource',
      position: n.position ?? positions.get(n.id) ?? { x: 0, y: 0 },
      data: {
        kind: n.kind,
        label: n.name || (n.resource ? names.get(n.resource.id) : undefined) || n.id,
        resource: n.resource,
        problems: [],
      },
    })),
    edges: (graph.links ?? []).map((l) => ({
      id: l.id,
      source: l.from,
      target: l.to,
      label: LINK_LABELS[l.kind],
      data: { kind: l.kind, source: l.source, destination: l.destination, problems: [] },
    })),
  }
}

export function fromFlow(nodes: FlowNode[], edges: FlowEdge[]): Graph {
  return {
    nodes: nodes.map((n) => {
      const out: GraphNode = {
        id: n.id,
        kind: n.data.kind,
        position: { x: Math.round(n.position.x), y: Math.round(n.position.y) },
      }
      if (n.data.resource) out.resource = n.data.resource
      if (n.data.label && n.data.label !== n.id) out.name = n.data.label
      return out
    }),
    links: edges.map((e) => {
      const out: GraphLink = { id: e.id, kind: e.data?.kind ?? 'dependency', from: e.source, to: e.target }
      if (e.data?.source) out.source = e.data.source
      if (e.data?.destination) out.destination = e.data.destination
      return out
    }),
  }
}

const COL = 260
const ROW = 120

/**
 * layout places nodes in columns by the longest path reaching them (data
 * and storages read on the left, computes on the right), ordered in a
 * column by the mean row of what links into them.
 */
export function layout(graph: Graph): Map<string, { x: number; y: number }> {
  const nodes = graph.nodes ?? []
  const ids = new Set(nodes.map((n) => n.id))
  const links = (graph.links ?? []).filter((l) => ids.has(l.from) && ids.has(l.to) && l.from !== l.to)
  const rank = new Map(nodes.map((n) => [n.id, 0]))
  // Bellman-Ford style relaxation, bounded so that a cycle cannot loop.
  for (let i = 0; i < nodes.length; i++) {
    let changed = false
    for (const l of links) {
      const r = (rank.get(l.from) ?? 0) + 1
      if (r > (rank.get(l.to) ?? 0) && r < nodes.length) {
        rank.set(l.to, r)
        changed = true
      }
    }
    if (!changed) break
  }
  const columns = new Map<number, string[]>()
  for (const n of nodes) {
    const r = rank.get(n.id) ?? 0
    columns.set(r, [...(columns.get(r) ?? []), n.id])
  }
  const row = new Map<string, number>()
  const out = new Map<string, { x: number; y: number }>()
  for (const r of [...columns.keys()].sort((a, b) => a - b)) {
    const col = columns.get(r) ?? []
    const weight = (id: string) => {
      const rows = links.filter((l) => l.to === id && row.has(l.from)).map((l) => row.get(l.from) ?? 0)
      return rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : Number.MAX_SAFE_INTEGER
    }
    col.sort((a, b) => weight(a) - weight(b) || a.localeCompare(b))
    col.forEach((id, i) => {
      row.set(id, i)
      out.set(id, { x: r * COL, y: i * ROW })
    })
  }
  return out
}

/** newId is an id for a node or link, from a name, unused in taken. */
export function newId(name: string, taken: Set<string>): string {
  const base =
    name
      .toLowerCase()
      .replace(/[^a-z0-9_.-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 56) || 'node'
  if (!taken.has(base)) return base
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`
}

export interface PlacedProblems {
  byNode: Map<string, Problem[]>
  byLink: Map<string, Problem[]>
  /** general are the problems of the workflow as a whole (its name, an empty graph…). */
  general: Problem[]
}

const NODE_FIELD = /^graph\.nodes\[(\d+)\]/
const LINK_FIELD = /^graph\.links\[(\d+)\]/

/**
 * place attaches each problem to the node or link it concerns: named by
 * the problem, else found by the index in its field path into the graph
 * that was validated.
 */
export function place(graph: Graph, problems: Problem[]): PlacedProblems {
  const out: PlacedProblems = { byNode: new Map(), byLink: new Map(), general: [] }
  const nodes = graph.nodes ?? []
  const links = graph.links ?? []
  const add = (m: Map<string, Problem[]>, id: string, p: Problem) => m.set(id, [...(m.get(id) ?? []), p])
  for (const p of problems) {
    const nodeIndex = p.field ? NODE_FIELD.exec(p.field) : null
    const linkIndex = p.field ? LINK_FIELD.exec(p.field) : null
    const nodeId = p.node ?? (nodeIndex ? nodes[Number(nodeIndex[1])]?.id : undefined)
    const linkId = p.link ?? (linkIndex ? links[Number(linkIndex[1])]?.id : undefined)
    if (linkId !== undefined && links.some((l) => l.id === linkId)) add(out.byLink, linkId, p)
    else if (nodeId !== undefined && nodes.some((n) => n.id === nodeId)) add(out.byNode, nodeId, p)
    else out.general.push(p)
  }
  return out
}

/** withProblems puts the placed problems on the flow's nodes and edges. */
export function withProblems(
  nodes: FlowNode[],
  edges: FlowEdge[],
  placed: PlacedProblems,
): { nodes: FlowNode[]; edges: FlowEdge[] } {
  return {
    nodes: nodes.map((n) => ({ ...n, data: { ...n.data, problems: placed.byNode.get(n.id) ?? [] } })),
    edges: edges.map((e) => {
      const problems = placed.byLink.get(e.id) ?? []
      return {
        ...e,
        className: problems.length ? 'edge-problem' : undefined,
        label: problems.length ? `⚠ ${LINK_LABELS[e.data?.kind ?? 'dependency']}` : LINK_LABELS[e.data?.kind ?? 'dependency'],
        data: { kind: e.data?.kind ?? 'dependency', ...e.data, problems },
      }
    }),
  }
}
