// Server-Sent Events read with fetch: EventSource cannot send the bearer
// token the services require.

import { fetchAuthed, toError } from './client'

export interface SSEEvent {
  event: string
  data: string
}

/** SSEParser turns the text of a text/event-stream into events, whatever the chunking. */
export class SSEParser {
  private buf = ''
  private event = ''
  private data: string[] = []

  push(chunk: string): SSEEvent[] {
    this.buf += chunk
    const out: SSEEvent[] = []
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf)
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (!m || (m[0] === '\r' && m.index === this.buf.length - 1)) break
      const line = this.buf.slice(0, m.index)
      this.buf = this.buf.slice(m.index + m[0].length)
      if (line === '') {
        if (this.data.length > 0) out.push({ event: this.event || 'message', data: this.data.join('\n') })
        this.event = ''
        this.data = []
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      let value = colon < 0 ? '' : line.slice(colon + 1)
      if (value.startsWith(' ')) value = value.slice(1)
      if (field === 'event') this.event = value
      else if (field === 'data') this.data.push(value)
    }
    return out
  }
}

/**
 * stream reads the events of path until the server ends the stream (it
 * resolves then) or signal aborts; a refusal rejects with the ApiError.
 */
export async function stream(path: string, onEvent: (e: SSEEvent) => void, signal: AbortSignal): Promise<void> {
  const r = await fetchAuthed(path, { headers: { Accept: 'text/event-stream' }, signal })
  if (!r.ok || !r.body) {
    const text = await r.text().catch(() => '')
    let data: unknown
    try {
      data = JSON.parse(text)
    } catch {
      data = undefined
    }
    throw toError(r.status, data)
  }
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader()
  const parser = new SSEParser()
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      parser.push(value).forEach(onEvent)
    }
  } finally {
    reader.releaseLock()
  }
}
