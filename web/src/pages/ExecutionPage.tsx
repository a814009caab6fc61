import '@xyflow/react/dist/style.css'
import { Background, Controls, ReactFlow } from '@xyflow/react'
import { useEffect, useMemo, useRef, useState } from 'react'
import { Link, useParams } from 'react-router'
import { api, ApiError, message } from '../api/client'
import { stream } from '../api/sse'
import type { Execution, LogLine, StateChange, StepLog, StepState } from '../api/types'
import { nodeTypes } from '../components/ResourceNode'
import { ErrorBox, Loading, StateBadge, Time, Title, Table } from '../components/ui'
import { duration } from '../lib/format'
import { toFlow, type FlowEdge, type FlowNode } from '../lib/graph'
import { applyChange, isOver, mergeLines, type Logs } from '../lib/live'

export default function ExecutionPage() {
  const { id = '' } = useParams()
  const [exec, setExec] = useState<Execution>()
  const [error, setError] = useState<unknown>()
  const [live, setLive] = useState<'connecting' | 'live' | 'ended' | 'retrying'>('connecting')
  const [liveError, setLiveError] = useState<string>()
  const [logs, setLogs] = useState<Logs>({})
  const [step, setStep] = useState('')
  const [cancelError, setCancelError] = useState<unknown>()
  const logRef = useRef<HTMLPreElement>(null)

  // The execution as stored, then every change the live stream brings.
  useEffect(() => {
    const ctl = new AbortController()
    let refetch: ReturnType<typeof setTimeout> | undefined
    const load = () =>
      api.get<Execution>(`/scheduler/executions/${id}`, undefined, ctl.signal).then(
        (e) => {
          setExec(e)
          // The lines kept so far; the live stream brings the next ones.
          setLogs((old) => mergeLines(old, (e.logs ?? []).flatMap((l) => l.lines ?? [])))
        },
        (e: unknown) => !ctl.signal.aborted && setError(e),
      )
    // Times and messages come with the stored execution: read it again
    // shortly after a change, once for a burst of changes.
    const soon = () => {
      clearTimeout(refetch)
      refetch = setTimeout(() => void load(), 700)
    }
    const follow = async () => {
      for (let attempt = 0; !ctl.signal.aborted; attempt++) {
        try {
          setLive(attempt === 0 ? 'connecting' : 'retrying')
          let over = false
          await stream(
            `/scheduler/executions/${id}/live`,
            (ev) => {
              setLive('live')
              setLiveError(undefined)
              if (ev.event === 'state') {
                const ch = JSON.parse(ev.data) as StateChange
                setExec((e) => (e ? applyChange(e, ch) : e))
                if (!ch.step && isOver(ch.to)) over = true
                soon()
              } else if (ev.event === 'log') {
                const l = JSON.parse(ev.data) as LogLine
                setLogs((old) => mergeLines(old, [l]))
              }
            },
            ctl.signal,
          )
          if (over) {
            setLive('ended')
            void load()
            return
          }
        } catch (e) {
          if (ctl.signal.aborted) return
          if (e instanceof ApiError && e.status !== 429 && e.status < 500) {
            setLiveError(message(e))
            setLive('ended')
            return
          }
          setLiveError(message(e))
        }
        await new Promise((r) => setTimeout(r, Math.min(15_000, 1000 * 2 ** Math.min(attempt, 4))))
      }
    }
    void load().then(() => void follow())
    return () => {
      ctl.abort()
      clearTimeout(refetch)
    }
  }, [id])

  const steps = useMemo(() => exec?.steps ?? [], [exec])
  const flow = useMemo(() => {
    if (!exec?.graph) return { nodes: [] as FlowNode[], edges: [] as FlowEdge[] }
    const names = new Map((exec.resources ?? []).map((r) => [r.id, r.name]))
    const f = toFlow(exec.graph, names)
    const byNode = new Map(steps.map((s) => [s.node, s.state]))
    return {
      nodes: f.nodes.map((n) => ({ ...n, draggable: false, connectable: false, data: { ...n.data, state: byNode.get(n.id) as StepState | undefined } })),
      edges: f.edges,
    }
  }, [exec, steps])

  const shownStep = step || steps.find((s) => s.state === 'running')?.node || steps[0]?.node || ''
  const lines = logs[shownStep] ?? []
  const kept: StepLog | undefined = exec?.logs?.find((l) => l.step === shownStep)
  // The execution answers the last lines of each step: the older ones kept are read page by page.
  const older = kept && kept.first_seq > 0 && (lines[0]?.seq ?? Infinity) > kept.first_seq
  const loadAll = async () => {
    let after = 0
    for (let i = 0; i < 20; i++) {
      const page = await api.get<{ items: LogLine[] | null; next: number; more: boolean }>(`/scheduler/executions/${id}/logs`, {
        step: shownStep,
        after,
        limit: 200,
      })
      setLogs((old) => mergeLines(old, page.items ?? []))
      if (!page.more) return
      after = page.next
    }
  }
  useEffect(() => {
    const el = logRef.current
    if (el) el.scrollTop = el.scrollHeight
  }, [lines.length])

  if (!exec) return error ? <ErrorBox error={error} /> : <Loading />
  const cancellable = ['scheduled', 'starting', 'running'].includes(exec.state)
  const cancel = async () => {
    if (!window.confirm(`Cancel the execution “${exec.name}”?`)) return
    setCancelError(undefined)
    try {
      setExec(await api.post<Execution>(`/scheduler/executions/${exec.id}/cancel`))
    } catch (e) {
      setCancelError(e)
    }
  }

  return (
    <>
      <Title
        actions={
          cancellable && (
            <button type="button" className="danger" onClick={() => void cancel()} disabled={exec.cancel_requested}>
              {exec.cancel_requested ? 'Cancelling…' : 'Cancel execution'}
            </button>
          )
        }
      >
        {exec.name}
      </Title>
      <ErrorBox error={cancelError} />
      <div className="panel">
        <div className="row">
          <span>
            State: <StateBadge state={exec.state} />
          </span>
          <span className="small muted" role="status" aria-live="polite">
            {live === 'live' && 'Following live.'}
            {live === 'connecting' && 'Connecting to the live stream…'}
            {live === 'retrying' && `The live stream was interrupted${liveError ? ` (${liveError})` : ''}; reconnecting…`}
            {live === 'ended' && (liveError ? `Live updates stopped: ${liveError}` : 'The execution is over.')}
          </span>
        </div>
        {exec.reason && <p>{exec.reason}</p>}
        <dl className="facts">
          <dt>Booked window</dt>
          <dd>
            <Time iso={exec.start} /> – <Time iso={exec.end} />
          </dd>
          <dt>Started</dt>
          <dd>
            <Time iso={exec.started_at} />
          </dd>
          <dt>Finished</dt>
          <dd>
            <Time iso={exec.finished_at} />
          </dd>
          <dt>Workflow</dt>
          <dd>
            <Link to={`/workflows/${exec.workflow_id}`}>{exec.workflow_id}</Link>
          </dd>
          {exec.failed_step && (
            <>
              <dt>Failed step</dt>
              <dd>{exec.failed_step}</dd>
            </>
          )}
        </dl>
      </div>
      <div className="grid2">
        <section aria-labelledby="dag-h">
          <h2 id="dag-h">Graph</h2>
          <div className="dag">
            <ReactFlow<FlowNode, FlowEdge>
              nodes={flow.nodes}
              edges={flow.edges}
              nodeTypes={nodeTypes}
              nodesDraggable={false}
              nodesConnectable={false}
              deleteKeyCode={null}
              fitView
              onNodeClick={(_, n) => setStep(n.id)}
            >
              <Background />
              <Controls showInteractive={false} />
            </ReactFlow>
          </div>
        </section>
        <section aria-labelledby="steps-h">
          <h2 id="steps-h">Steps</h2>
          <Table head={['Step', 'State', 'Started', 'Took']}>
                {steps.map((s) => (
                  <tr key={s.node} data-testid={`step-${s.node}`}>
                    <td>
                      <button type="button" className="link" onClick={() => setStep(s.node)} aria-label={`Logs of ${s.node}`}>
                        {s.node}
                      </button>
                      {s.message && <div className="small muted">{s.message}</div>}
                    </td>
                    <td>
                      <StateBadge state={s.state} />
                    </td>
                    <td>
                      <Time iso={s.started_at} />
                    </td>
                    <td>{duration(s.started_at, s.finished_at)}</td>
                  </tr>
                ))}
                {steps.length === 0 && (
                  <tr>
                    <td colSpan={4} className="muted">
                      No step has started.
                    </td>
                  </tr>
                )}
          </Table>
        </section>
      </div>
      <section aria-labelledby="logs-h">
        <div className="spread">
          <h2 id="logs-h">Logs {shownStep && `of ${shownStep}`}</h2>
          {steps.length > 0 && (
            <div className="row">
              <label htmlFor="log-step">Step</label>
              <select id="log-step" value={shownStep} onChange={(e) => setStep(e.target.value)}>
                {steps.map((s) => (
                  <option key={s.node} value={s.node}>
                    {s.node} ({s.state}, {logs[s.node]?.length ?? 0} lines)
                  </option>
                ))}
              </select>
            </div>
          )}
        </div>
        {older && (
          <p>
            <button type="button" onClick={() => void loadAll().catch((e: unknown) => setLiveError(message(e)))}>
              Show the earlier lines kept
            </button>
          </p>
        )}
        <pre className="logs" ref={logRef} tabIndex={0} aria-label={`Logs of ${shownStep || 'the steps'}`} data-testid="logs">
          {lines.length ? lines.map((l) => l.line).join('\n') : live === 'ended' ? 'This step wrote no line.' : 'Lines appear here as the step writes them.'}
        </pre>
      </section>
    </>
  )
}
