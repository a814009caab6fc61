import '@xyflow/react/dist/style.css'
import {
  applyEdgeChanges,
  applyNodeChanges,
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Connection,
  type EdgeChange,
  type NodeChange,
} from '@xyflow/react'
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import { api, ApiError, fetchAuthed, request } from '../api/client'
import type { GraphLink, LinkKind, NodeKind, Page, Problem, Resolved, Resource, Validation, Workflow, Workspace } from '../api/types'
import { useAuth } from '../auth/context'
import { nodeTypes } from '../components/ResourceNode'
import { ErrorBox, KindBadge, Loading, Title } from '../components/ui'
import {
  fromFlow,
  layout,
  LINK_LABELS,
  linkKind,
  newId,
  place,
  toFlow,
  whyNot,
  withProblems,
  type FlowEdge,
  type FlowNode,
} from '../lib/graph'
import { record, redo, start, undo, type History } from '../lib/history'
import { useAsync } from '../lib/useAsync'

interface Snapshot {
  nodes: FlowNode[]
  edges: FlowEdge[]
}

const DRAG_TYPE = 'application/x-opencloud-resource'

export default function Editor() {
  const { id = '' } = useParams()
  const wf = useAsync(async (signal) => {
    const w = await api.get<Workflow>(`/workflow/workflows/${id}`, undefined, signal)
    const ids = [...new Set((w.graph.nodes ?? []).flatMap((n) => (n.resource ? [n.resource.id] : [])))]
    const found = ids.length
      ? await api.post<{ items: Resource[] | null }>('/catalog/resources/lookup', { ids }, { signal })
      : { items: [] }
    return { w, names: new Map((found.items ?? []).map((r) => [r.id, r.name])) }
  }, [id])
  if (wf.loading && !wf.data) return <Loading />
  if (!wf.data) return <ErrorBox error={wf.error} />
  return (
    <ReactFlowProvider>
      <Canvas key={`${wf.data.w.id}:${wf.data.w.version}`} workflow={wf.data.w} names={wf.data.names} />
    </ReactFlowProvider>
  )
}

function Canvas({ workflow, names }: { workflow: Workflow; names: Map<string, string> }) {
  const navigate = useNavigate()
  const { me, admin } = useAuth()
  const flow = useReactFlow<FlowNode, FlowEdge>()
  const canEdit = admin || workflow.owner === me.sub
  const [history, setHistory] = useState<History<Snapshot>>(() => start(toFlow(workflow.graph, names)))
  const [version, setVersion] = useState(workflow.version)
  const [saved, setSaved] = useState<Snapshot>(history.present)
  const [validation, setValidation] = useState<{ graph: ReturnType<typeof fromFlow>; result: Validation }>()
  const [error, setError] = useState<unknown>()
  const [status, setStatus] = useState('')
  const [busy, setBusy] = useState(false)
  const dragBase = useRef<Snapshot | undefined>(undefined)
  const present = history.present
  const graph = useMemo(() => fromFlow(present.nodes, present.edges), [present])
  const dirty = JSON.stringify(fromFlow(saved.nodes, saved.edges)) !== JSON.stringify(graph)

  // Every change is checked by oc-workflow, a moment after it is made.
  useEffect(() => {
    const ctl = new AbortController()
    const t = setTimeout(() => {
      api
        .post<Validation>(
          '/workflow/workflows/validate',
          { name: workflow.name, description: workflow.description, tags: workflow.tags, graph },
          { query: { workflow_id: workflow.id }, signal: ctl.signal },
        )
        .then((result) => setValidation({ graph, result }))
        .catch((e: unknown) => {
          if (!ctl.signal.aborted) setError(e)
        })
    }, 400)
    return () => {
      clearTimeout(t)
      ctl.abort()
    }
  }, [graph, workflow])

  const problems = useMemo(() => validation?.result.problems ?? [], [validation])
  const warnings = validation?.result.warnings ?? []
  const placed = useMemo(() => place(validation?.graph ?? { nodes: [], links: [] }, problems), [validation, problems])
  const shown = useMemo(() => withProblems(present.nodes, present.edges, placed), [present, placed])
  const nodeKind = useCallback((nid: string) => present.nodes.find((n) => n.id === nid)?.data.kind, [present])

  const commit = useCallback((next: Snapshot) => setHistory((h) => record(h, next)), [])
  // Changes React Flow makes (moves, selection, deletions with the keyboard)
  // apply as they come; a deletion is one step of the history, recorded
  // by onBeforeDelete, a move when the drag ends.
  const onNodesChange = useCallback((changes: NodeChange<FlowNode>[]) => {
    setHistory((h) => {
      const nodes = applyNodeChanges(changes, h.present.nodes)
      const gone = new Set(changes.flatMap((c) => (c.type === 'remove' ? [c.id] : [])))
      const edges = gone.size ? h.present.edges.filter((e) => !gone.has(e.source) && !gone.has(e.target)) : h.present.edges
      return { ...h, present: { nodes, edges } }
    })
  }, [])
  const onEdgesChange = useCallback((changes: EdgeChange<FlowEdge>[]) => {
    setHistory((h) => ({ ...h, present: { ...h.present, edges: applyEdgeChanges(changes, h.present.edges) } }))
  }, [])
  const onBeforeDelete = useCallback(async () => {
    setHistory((h) => ({ past: [...h.past, h.present].slice(-100), present: h.present, future: [] }))
    return true
  }, [])

  const link = useCallback(
    (from: string, to: string, extra: Partial<GraphLink> = {}) => {
      const a = nodeKind(from)
      const b = nodeKind(to)
      const kind = a && b ? linkKind(a, b) : undefined
      if (!kind || from === to) return
      const taken = new Set(present.edges.map((e) => e.id))
      const edge: FlowEdge = {
        id: newId(`${from}-${to}`, taken),
        source: from,
        target: to,
        label: LINK_LABELS[kind],
        data: { kind, source: extra.source, destination: extra.destination, problems: [] },
      }
      commit({ ...present, edges: [...present.edges, edge] })
    },
    [commit, nodeKind, present],
  )
  const isValidConnection = useCallback(
    (c: Connection | FlowEdge) => {
      const a = nodeKind(c.source)
      const b = nodeKind(c.target)
      return !!a && !!b && c.source !== c.target && !!linkKind(a, b)
    },
    [nodeKind],
  )

  const addResource = useCallback(
    (r: Resource, at?: { x: number; y: number }) => {
      if (r.kind === 'workflow') return
      const taken = new Set(present.nodes.map((n) => n.id))
      const nid = newId(r.name, taken)
      const maxX = Math.max(0, ...present.nodes.map((n) => n.position.x))
      const count = present.nodes.filter((n) => n.position.x === maxX + 260).length
      const node: FlowNode = {
        id: nid,
        type: 'resource',
        position: at ?? { x: present.nodes.length ? maxX + 260 : 0, y: count * 120 },
        data: { kind: r.kind as NodeKind, label: r.name, resource: { peer: r.peer_id, id: r.id }, problems: [] },
      }
      commit({ ...present, nodes: [...present.nodes.map((n) => ({ ...n, selected: false })), { ...node, selected: true }] })
      setStatus(`Added ${r.name} as node ${nid}.`)
    },
    [commit, present],
  )

  const onDrop = (e: DragEvent) => {
    const raw = e.dataTransfer.getData(DRAG_TYPE)
    if (!raw) return
    e.preventDefault()
    addResource(JSON.parse(raw) as Resource, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }))
  }

  const autoLayout = () => {
    const pos = layout(graph)
    commit({ ...present, nodes: present.nodes.map((n) => ({ ...n, position: pos.get(n.id) ?? n.position })) })
    setTimeout(() => void flow.fitView({ duration: 200 }), 0)
  }

  const save = async () => {
    setBusy(true)
    setError(undefined)
    try {
      const r = await request<Workflow>('PUT', `/workflow/workflows/${workflow.id}`, {
        body: { name: workflow.name, description: workflow.description, tags: workflow.tags, graph },
        version,
      })
      setVersion(r.data.version)
      setSaved(present)
      setStatus(`Saved (version ${r.data.version}).`)
    } catch (e) {
      if (e instanceof ApiError && e.code === 'invalid_workflow' && e.details) {
        setValidation({ graph, result: e.details as Validation })
        setStatus('Not saved: fix the problems listed first.')
      } else setError(e)
    } finally {
      setBusy(false)
    }
  }

  const duplicate = async () => {
    try {
      const copy = await api.post<Workflow>(`/workflow/workflows/${workflow.id}/duplicate`, {}, { idempotent: true })
      navigate(`/workflows/${copy.id}`)
    } catch (e) {
      setError(e)
    }
  }

  const exportIt = async () => {
    try {
      const r = await fetchAuthed(`/workflow/workflows/${workflow.id}/export`, { headers: { Accept: 'application/json' } })
      if (!r.ok) throw new ApiError(r.status, 'export', `The export failed (HTTP ${r.status}).`)
      const url = URL.createObjectURL(await r.blob())
      const a = document.createElement('a')
      a.href = url
      a.download = `${workflow.name}.json`
      a.click()
      setTimeout(() => URL.revokeObjectURL(url), 1000)
      setStatus(`Exported as ${workflow.name}.json.`)
    } catch (e) {
      setError(e)
    }
  }

  const focusNode = (nid: string) => {
    setHistory((h) => ({ ...h, present: { ...h.present, nodes: h.present.nodes.map((n) => ({ ...n, selected: n.id === nid })) } }))
    void flow.fitView({ nodes: [{ id: nid }], duration: 250, maxZoom: 1.2 })
    setTimeout(() => document.querySelector<HTMLElement>(`.react-flow__node[data-id="${CSS.escape(nid)}"]`)?.focus(), 300)
  }
  const focusLink = (lid: string) => {
    setHistory((h) => ({ ...h, present: { ...h.present, edges: h.present.edges.map((e) => ({ ...e, selected: e.id === lid })) } }))
    const e = present.edges.find((x) => x.id === lid)
    if (e) void flow.fitView({ nodes: [{ id: e.source }, { id: e.target }], duration: 250, maxZoom: 1.2 })
  }

  // Undo, redo and save from anywhere on the page but a text field: the
  // keyboard's focus is often on no element after a deletion.
  const saveRef = useRef(save)
  useEffect(() => {
    saveRef.current = save
  })
  useEffect(() => {
    const onKeyDown = (e: globalThis.KeyboardEvent) => {
      const target = e.target as HTMLElement
      if (['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName)) return
      const mod = e.ctrlKey || e.metaKey
      const key = e.key.toLowerCase()
      if (mod && key === 'z') {
        e.preventDefault()
        setHistory((h) => (e.shiftKey ? redo(h) : undo(h)))
      } else if (mod && key === 'y') {
        e.preventDefault()
        setHistory(redo)
      } else if (mod && key === 's') {
        e.preventDefault()
        void saveRef.current()
      }
    }
    window.addEventListener('keydown', onKeyDown)
    return () => window.removeEventListener('keydown', onKeyDown)
  }, [])

  const selectedNode = present.nodes.find((n) => n.selected)
  const selectedEdge = present.edges.find((e) => e.selected)
  const all: (Problem & { where: string })[] = [
    ...placed.general.map((p) => ({ ...p, where: 'workflow' })),
    ...[...placed.byNode.entries()].flatMap(([nid, ps]) => ps.map((p) => ({ ...p, where: `node:${nid}` }))),
    ...[...placed.byLink.entries()].flatMap(([lid, ps]) => ps.map((p) => ({ ...p, where: `link:${lid}` }))),
  ]

  return (
    <div>
      <Title>{workflow.name}</Title>
      <div className="toolbar" role="toolbar" aria-label="Workflow">
        <button type="button" className="primary" onClick={() => void save()} disabled={!canEdit || busy}>
          Save
        </button>
        <button type="button" onClick={() => setHistory(undo)} disabled={!history.past.length} aria-keyshortcuts="Control+Z">
          Undo
        </button>
        <button type="button" onClick={() => setHistory(redo)} disabled={!history.future.length} aria-keyshortcuts="Control+Shift+Z">
          Redo
        </button>
        <button type="button" onClick={autoLayout}>
          Auto-layout
        </button>
        <button type="button" onClick={() => void duplicate()}>
          Duplicate
        </button>
        <button type="button" onClick={() => void exportIt()}>
          Export
        </button>
        <Link className="button" to={`/workflows/${workflow.id}/book`} aria-disabled={dirty} onClick={(e) => dirty && e.preventDefault()}>
          Book…
        </Link>
        <span className="status small" role="status" aria-live="polite">
          {dirty ? 'Unsaved changes. ' : 'Saved. '}
          {validation ? (problems.length ? `⚠ ${problems.length} problem${problems.length > 1 ? 's' : ''}` : '✓ valid') : 'Checking…'}
          {status && ` ${status}`}
        </span>
      </div>
      <ErrorBox error={error} />
      <div className="editor">
        <Palette onAdd={(r) => addResource(r)} disabled={!canEdit} />
        <section className="canvas" aria-label="Workflow graph" onDragOver={(e) => e.preventDefault()} onDrop={onDrop}>
          <ReactFlow<FlowNode, FlowEdge>
            nodes={shown.nodes}
            edges={shown.edges}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onBeforeDelete={onBeforeDelete}
            onConnect={(c) => link(c.source, c.target)}
            isValidConnection={isValidConnection}
            onNodeDragStart={() => (dragBase.current = present)}
            onNodeDragStop={() => {
              const base = dragBase.current
              dragBase.current = undefined
              if (base) setHistory((h) => ({ past: [...h.past, base].slice(-100), present: h.present, future: [] }))
            }}
            nodesDraggable={canEdit}
            nodesConnectable={canEdit}
            deleteKeyCode={canEdit ? ['Delete', 'Backspace'] : null}
            fitView
            minZoom={0.2}
          >
            <Background />
            <Controls />
            <MiniMap pannable zoomable ariaLabel="Overview of the graph" />
          </ReactFlow>
        </section>
        <aside className="inspector" aria-label="Details and problems">
          <h2>Problems</h2>
          {!validation && <p className="muted">Checking…</p>}
          {validation && all.length === 0 && <p>✓ No problem: this workflow can be saved and booked.</p>}
          <ul className="problems">
            {all.map((p, i) => (
              <li key={i}>
                <button
                  type="button"
                  onClick={() => (p.where.startsWith('node:') ? focusNode(p.where.slice(5)) : p.where.startsWith('link:') ? focusLink(p.where.slice(5)) : undefined)}
                >
                  <span aria-hidden="true">⚠ </span>
                  <strong>{p.where === 'workflow' ? 'Workflow' : p.where.replace(':', ' ')}</strong>: {p.message}
                </button>
              </li>
            ))}
          </ul>
          {warnings.length > 0 && (
            <div className="warning">
              {warnings.map((w, i) => (
                <p key={i}>{w.message}</p>
              ))}
            </div>
          )}
          {selectedNode && (
            <NodePanel
              node={selectedNode}
              nodes={present.nodes}
              edges={present.edges}
              canEdit={canEdit}
              onRename={(label) =>
                commit({ ...present, nodes: present.nodes.map((n) => (n.id === selectedNode.id ? { ...n, data: { ...n.data, label } } : n)) })
              }
              onLink={(to) => link(selectedNode.id, to)}
              onRemove={() =>
                commit({
                  nodes: present.nodes.filter((n) => n.id !== selectedNode.id),
                  edges: present.edges.filter((e) => e.source !== selectedNode.id && e.target !== selectedNode.id),
                })
              }
              onRemoveLink={(lid) => commit({ ...present, edges: present.edges.filter((e) => e.id !== lid) })}
            />
          )}
          {selectedEdge && !selectedNode && (
            <LinkPanel
              edge={selectedEdge}
              canEdit={canEdit}
              onChange={(data) =>
                commit({
                  ...present,
                  edges: present.edges.map((e) => (e.id === selectedEdge.id ? { ...e, data: { ...(e.data ?? { kind: 'dependency', problems: [] }), ...data } } : e)),
                })
              }
              onRemove={() => commit({ ...present, edges: present.edges.filter((e) => e.id !== selectedEdge.id) })}
            />
          )}
          {!selectedNode && !selectedEdge && (
            <p className="muted small">
              Select a node (click, or Tab to it) to rename it, link it or remove it. Drag from a node's right handle to another node's left handle to
              link them; a link the rules forbid is refused. Ctrl+Z undoes, Ctrl+Shift+Z redoes, Ctrl+S saves.
            </p>
          )}
        </aside>
      </div>
    </div>
  )
}

function NodePanel(props: {
  node: FlowNode
  nodes: FlowNode[]
  edges: FlowEdge[]
  canEdit: boolean
  onRename: (label: string) => void
  onLink: (to: string) => void
  onRemove: () => void
  onRemoveLink: (id: string) => void
}) {
  const { node, nodes, edges, canEdit } = props
  const targets = nodes.filter((n) => n.id !== node.id && !whyNot(node.data.kind, n.data.kind))
  const [to, setTo] = useState('')
  const [label, setLabel] = useState(node.data.label)
  const mine = edges.filter((e) => e.source === node.id || e.target === node.id)
  const name = (nid: string) => {
    const label = nodes.find((n) => n.id === nid)?.data.label
    return label && label !== nid ? `${label} (${nid})` : nid
  }
  return (
    <section aria-labelledby="node-panel">
      <h2 id="node-panel">Node {node.id}</h2>
      <p>
        <KindBadge kind={node.data.kind} />{' '}
        {node.data.resource && <Link to={`/resources/${node.data.resource.id}`}>the resource</Link>}
      </p>
      <div className="field">
        <label htmlFor="node-label">Label</label>
        <div className="row">
          <input id="node-label" value={label} onChange={(e) => setLabel(e.target.value)} disabled={!canEdit} style={{ flex: 1 }} />
          <button type="button" onClick={() => props.onRename(label)} disabled={!canEdit || label === node.data.label}>
            Rename
          </button>
        </div>
      </div>
      {canEdit && (
        <div className="field">
          <label htmlFor="node-link">Link to</label>
          {targets.length === 0 ? (
            <p className="muted small">No node can take a link from a {node.data.kind}.</p>
          ) : (
            <div className="row">
              <select id="node-link" value={to || targets[0].id} onChange={(e) => setTo(e.target.value)} style={{ flex: 1 }}>
                {targets.map((n) => (
                  <option key={n.id} value={n.id}>
                    {n.data.label} ({n.id}, {linkKind(node.data.kind, n.data.kind)})
                  </option>
                ))}
              </select>
              <button type="button" onClick={() => props.onLink(to || targets[0].id)}>
                Link
              </button>
            </div>
          )}
        </div>
      )}
      <h3>Links</h3>
      {mine.length === 0 && <p className="muted small">None.</p>}
      <ul>
        {mine.map((e) => (
          <li key={e.id}>
            {name(e.source)} → {name(e.target)} ({LINK_LABELS[e.data?.kind ?? 'dependency']}){' '}
            {canEdit && (
              <button type="button" className="link" onClick={() => props.onRemoveLink(e.id)} aria-label={`Remove link ${e.id}`}>
                remove
              </button>
            )}
          </li>
        ))}
      </ul>
      {canEdit && (
        <button type="button" className="danger" onClick={props.onRemove}>
          Remove node
        </button>
      )}
    </section>
  )
}

function LinkPanel(props: {
  edge: FlowEdge
  canEdit: boolean
  onChange: (d: { source?: string; destination?: string }) => void
  onRemove: () => void
}) {
  const { edge, canEdit } = props
  const kind: LinkKind = edge.data?.kind ?? 'dependency'
  const storage = kind === 'storage_read' || kind === 'storage_write'
  const [source, setSource] = useState(edge.data?.source ?? '')
  const [destination, setDestination] = useState(edge.data?.destination ?? '')
  return (
    <section aria-labelledby="link-panel">
      <h2 id="link-panel">Link {edge.id}</h2>
      <p>
        {edge.source} → {edge.target}: {kind}
      </p>
      {storage && (
        <>
          <div className="field">
            <label htmlFor="link-source">{kind === 'storage_read' ? 'Key or prefix read in the bucket' : 'Path written in the container'}</label>
            <input id="link-source" value={source} onChange={(e) => setSource(e.target.value)} disabled={!canEdit} />
          </div>
          <div className="field">
            <label htmlFor="link-destination">{kind === 'storage_read' ? 'Path in the container' : 'Key or prefix in the bucket'}</label>
            <input id="link-destination" value={destination} onChange={(e) => setDestination(e.target.value)} disabled={!canEdit} />
          </div>
          <button type="button" onClick={() => props.onChange({ source, destination })} disabled={!canEdit}>
            Apply
          </button>{' '}
        </>
      )}
      {canEdit && (
        <button type="button" className="danger" onClick={props.onRemove}>
          Remove link
        </button>
      )}
    </section>
  )
}

function Palette({ onAdd, disabled }: { onAdd: (r: Resource) => void; disabled: boolean }) {
  const spaces = useAsync((signal) => api.get<Page<Workspace>>('/workspace/workspaces', { limit: 200, sort: 'name' }, signal), [])
  const choices = (spaces.data?.items ?? []).filter((w) => !w.workflow_id)
  const [chosen, setChosen] = useState('')
  const wsId = chosen || choices[0]?.id || ''
  const items = useAsync(
    async (signal) => (wsId ? api.get<Page<Resolved>>(`/workspace/workspaces/${wsId}/resources`, { limit: 200 }, signal) : undefined),
    [wsId],
  )
  return (
    <aside className="palette" aria-label="Resources to add">
      <h2>Resources</h2>
      <ErrorBox error={spaces.error ?? items.error} />
      {spaces.data && choices.length === 0 && (
        <p className="muted small">
          Gather resources in a <Link to="/workspaces">workspace</Link> first: they are listed here to drag onto the graph.
        </p>
      )}
      {choices.length > 0 && (
        <div className="field">
          <label htmlFor="palette-ws">Workspace</label>
          <select id="palette-ws" value={wsId} onChange={(e) => setChosen(e.target.value)}>
            {choices.map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
          </select>
        </div>
      )}
      <ul>
        {(items.data?.items ?? []).map((r) =>
          r.resource && r.resource.kind !== 'workflow' ? (
            <li
              key={r.ref.id}
              draggable={!disabled}
              onDragStart={(e) => {
                e.dataTransfer.setData(DRAG_TYPE, JSON.stringify(r.resource))
                e.dataTransfer.effectAllowed = 'copy'
              }}
            >
              <span>
                <KindBadge kind={r.resource.kind} /> {r.resource.name}
              </span>
              <button type="button" onClick={() => r.resource && onAdd(r.resource)} disabled={disabled} aria-label={`Add ${r.resource.name} to the graph`}>
                Add
              </button>
            </li>
          ) : (
            <li key={r.ref.id} className="muted small">
              ⚠ {r.ref.id}: {r.reason ?? 'unavailable'}
            </li>
          ),
        )}
      </ul>
    </aside>
  )
}
