import { describe, expect, it } from 'vitest'
import { LIMIT, record, redo, start, undo } from './history'

describe('history', () => {
  it('undoes and redoes in order', () => {
    let h = start('a')
    h = record(h, 'b')
    h = record(h, 'c')
    h = undo(h)
    expect(h.present).toBe('b')
    h = undo(h)
    expect(h.present).toBe('a')
    expect(undo(h)).toBe(h)
    h = redo(h)
    expect(h.present).toBe('b')
    h = redo(h)
    expect(h.present).toBe('c')
    expect(redo(h)).toBe(h)
  })

  it('forgets the redo branch after a new change', () => {
    let h = record(record(start(1), 2), 3)
    h = record(undo(h), 4)
    expect(h.present).toBe(4)
    expect(h.future).toEqual([])
    expect(undo(h).present).toBe(2)
  })

  it('keeps a bounded past', () => {
    let h = start(0)
    for (let i = 1; i <= LIMIT + 10; i++) h = record(h, i)
    expect(h.past).toHaveLength(LIMIT)
    expect(h.past[0]).toBe(10)
  })
})
