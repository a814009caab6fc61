// An execution as the live stream changes it.

import type { ExecState, Execution, LogLine, StateChange, StepState } from '../api/types'

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'missed'])

export function isOver(state: string): boolean {
  return TERMINAL.has(state)
}

/** applyChange is the execution after one "state" event: its own state, or one step's. */
export function applyChange(e: Execution, ch: StateChange): Execution {
  if (ch.execution_id && ch.execution_id !== e.id) return e
  if (ch.step) {
    const steps = [...(e.steps ?? [])]
    const i = steps.findIndex((s) => s.node === ch.step)
    const state = ch.to as StepState
    if (i >= 0) {
      steps[i] = {
        ...steps[i],
        state,
        started_at: steps[i].started_at ?? (state === 'running' ? ch.at : undefined),
        finished_at: isOver(state) ? ch.at : steps[i].finished_at,
        message: ch.reason ?? steps[i].message,
      }
    } else steps.push({ node: ch.step, state, started_at: state === 'running' ? ch.at : undefined })
    return { ...e, steps }
  }
  return { ...e, state: ch.to as ExecState, reason: ch.reason ?? (isOver(ch.to) ? e.reason : undefined) }
}

/** Logs are each step's lines, in seq order. */
export type Logs = Record<string, LogLine[]>

/**
 * mergeLines adds lines to the logs: each step's lines stay in seq order,
 * a line seen already (the stored ones and the live stream overlap) once,
 * and at most `keep` per step, the last ones.
 */
export function mergeLines(logs: Logs, lines: LogLine[], keep = 5000): Logs {
  if (lines.length === 0) return logs
  const out: Logs = { ...logs }
  const bySteps = new Map<string, LogLine[]>()
  for (const l of lines) bySteps.set(l.step, [...(bySteps.get(l.step) ?? []), l])
  for (const [step, add] of bySteps) {
    const seen = new Map((out[step] ?? []).map((l) => [l.seq, l]))
    for (const l of add) if (!seen.has(l.seq)) seen.set(l.seq, l)
    out[step] = [...seen.values()].sort((a, b) => a.seq - b.seq).slice(-keep)
  }
  return out
}
