import { describe, expect, it } from 'vitest'
import type { Execution } from '../api/types'
import { applyChange, isOver, mergeLines } from './live'

const exec = {
  id: 'e1', name: 'run', workflow_id: 'w', owner: 'u', state: 'scheduled', start: '', end: '', created_at: '', updated_at: '', version: 1,
  steps: [{ node: 'a', state: 'scheduled' }, { node: 'b', state: 'scheduled' }],
} as Execution

describe('applyChange', () => {
  it('follows a run: the execution, then each step', () => {
    let e = applyChange(exec, { execution_id: 'e1', workflow_id: 'w', to: 'running', at: '2026-01-01T00:00:00Z' })
    expect(e.state).toBe('running')
    e = applyChange(e, { execution_id: 'e1', workflow_id: 'w', step: 'a', to: 'running', at: '2026-01-01T00:00:01Z' })
    e = applyChange(e, { execution_id: 'e1', workflow_id: 'w', step: 'a', to: 'succeeded', at: '2026-01-01T00:00:03Z' })
    expect(e.steps?.[0]).toMatchObject({ state: 'succeeded', started_at: '2026-01-01T00:00:01Z', finished_at: '2026-01-01T00:00:03Z' })
    expect(e.steps?.[1].state).toBe('scheduled')
    expect(e.state).toBe('running')
    e = applyChange(e, { execution_id: 'e1', workflow_id: 'w', step: 'c', to: 'pending', at: '2026-01-01T00:00:04Z' })
    expect(e.steps?.map((s) => s.node)).toEqual(['a', 'b', 'c'])
    e = applyChange(e, { execution_id: 'e1', workflow_id: 'w', to: 'failed', reason: 'step "b" failed', at: '2026-01-01T00:00:05Z' })
    expect(e).toMatchObject({ state: 'failed', reason: 'step "b" failed' })
  })
  it('ignores another execution', () => {
    expect(applyChange(exec, { execution_id: 'other', workflow_id: 'w', to: 'running', at: '' })).toBe(exec)
  })
  it('knows the states that end a run', () => {
    expect(['succeeded', 'failed', 'cancelled', 'missed'].every(isOver)).toBe(true)
    expect(['scheduled', 'starting', 'running'].some(isOver)).toBe(false)
  })
})

describe('mergeLines', () => {
  const line = (step: string, seq: number) => ({ execution_id: 'e1', step, seq, at: '', line: `${step} ${seq}` })
  it('keeps seq order, each line once, per step', () => {
    let logs = mergeLines({}, [line('a', 1), line('a', 2), line('b', 1)])
    // The live stream repeats what the stored log had, and goes on.
    logs = mergeLines(logs, [line('a', 2), line('a', 4), line('a', 3)])
    expect(logs.a.map((l) => l.seq)).toEqual([1, 2, 3, 4])
    expect(logs.b.map((l) => l.line)).toEqual(['b 1'])
  })
  it('keeps the last lines only', () => {
    const logs = mergeLines({}, [1, 2, 3, 4, 5].map((n) => line('a', n)), 3)
    expect(logs.a.map((l) => l.seq)).toEqual([3, 4, 5])
  })
  it('changes nothing without lines', () => {
    const logs = {}
    expect(mergeLines(logs, [])).toBe(logs)
  })
})
