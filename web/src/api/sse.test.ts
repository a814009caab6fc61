import { describe, expect, it } from 'vitest'
import { SSEParser } from './sse'

describe('SSEParser', () => {
  it('reads the scheduler live stream, comments and all', () => {
    const p = new SSEParser()
    const text =
      'event: state\ndata: {"to":"running"}\n\n: keep-alive\n\nevent: log\ndata: {"step":"a","line":"hello"}\n\n'
    expect(p.push(text)).toEqual([
      { event: 'state', data: '{"to":"running"}' },
      { event: 'log', data: '{"step":"a","line":"hello"}' },
    ])
  })

  it('gives the same events whatever the chunks', () => {
    const text = 'event: state\r\ndata: {"a":1}\r\n\r\nevent: log\ndata: x\ndata: y\n\n'
    const whole = new SSEParser().push(text)
    for (let size = 1; size < 8; size++) {
      const p = new SSEParser()
      const got = []
      for (let i = 0; i < text.length; i += size) got.push(...p.push(text.slice(i, i + size)))
      expect(got).toEqual(whole)
    }
    expect(whole).toEqual([
      { event: 'state', data: '{"a":1}' },
      { event: 'log', data: 'x\ny' },
    ])
  })

  it('holds back an event until its blank line', () => {
    const p = new SSEParser()
    expect(p.push('event: state\ndata: 1\n')).toEqual([])
    expect(p.push('\n')).toEqual([{ event: 'state', data: '1' }])
  })
})
