import { useEffect, useId, useRef, type ReactNode } from 'react'
import { ApiError, message } from '../api/client'
import type { ExecState, StepState } from '../api/types'
import { when } from '../lib/format'

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p role="status" className="muted">
      {what}…
    </p>
  )
}

/** ErrorBox says what went wrong, with the server's message. */
export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null
  const text = message(error)
  if (!text) return null
  return (
    <div className="alert" role="alert">
      {title && <strong>{title}: </strong>}
      {text}
      {error instanceof ApiError && error.fields.length > 1 && (
        <ul>
          {error.fields.map((f) => (
            <li key={f.field + f.problem}>
              <span className="mono">{f.field}</span>: {f.problem}
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}

/** fieldErrors maps the fields of a 400 to their problems. */
export function fieldErrors(e: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (e instanceof ApiError) for (const f of e.fields) out[f.field] = out[f.field] ? `${out[f.field]}; ${f.problem}` : f.problem
  return out
}

interface FieldProps {
  label: string
  /** name is the field's path in the API's body ("data.location"), which the server's errors name. */
  name: string
  errors?: Record<string, string>
  hint?: ReactNode
  children: (props: { id: string; name: string; 'aria-invalid'?: boolean; 'aria-describedby'?: string }) => ReactNode
}

/** Field is a labelled control with its hint and the server's problem beside it. */
export function Field({ label, name, errors, hint, children }: FieldProps) {
  const id = useId()
  const err = errors?.[name]
  const described = [hint ? `${id}-hint` : '', err ? `${id}-err` : ''].filter(Boolean).join(' ') || undefined
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children({ id, name, 'aria-invalid': err ? true : undefined, 'aria-describedby': described })}
      {hint && (
        <div className="hint" id={`${id}-hint`}>
          {hint}
        </div>
      )}
      {err && (
        <div className="error" id={`${id}-err`}>
          ⚠ {err}
        </div>
      )}
    </div>
  )
}

const STATE_ICONS: Record<string, string> = {
  scheduled: '◷',
  pending: '…',
  starting: '↗',
  running: '▶',
  succeeded: '✓',
  failed: '✕',
  cancelled: '⊘',
  missed: '⤼',
  skipped: '↷',
}

/** StateBadge shows a state by icon, word and colour. */
export function StateBadge({ state }: { state: ExecState | StepState | string }) {
  return <Badge state={state} icon={STATE_ICONS[state] ?? '•'} text={state} />
}

/** Badge shows a state (its class state-<state>) by icon, words and colour. */
export function Badge({ state, icon, text }: { state: string; icon: string; text: string }) {
  return (
    <span className={`state state-${state}`}>
      <span aria-hidden="true">{icon}</span>
      {text}
    </span>
  )
}

export function stateIcon(state: string): string {
  return STATE_ICONS[state] ?? '•'
}

export function Time({ iso }: { iso?: string }) {
  if (!iso) return <span>—</span>
  return <time dateTime={iso}>{when(iso)}</time>
}

export function Pager({ offset, limit, total, onPage }: { offset: number; limit: number; total: number; onPage: (offset: number) => void }) {
  if (total <= limit) return null
  const page = Math.floor(offset / limit) + 1
  const pages = Math.ceil(total / limit)
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" disabled={page <= 1} onClick={() => onPage(offset - limit)}>
        Previous
      </button>
      <span>
        Page {page} of {pages}
      </span>
      <button type="button" disabled={page >= pages} onClick={() => onPage(offset + limit)}>
        Next
      </button>
    </nav>
  )
}

/** Title sets the document's title and puts the page's heading first for screen readers. */
export function Title({ children, actions }: { children: string; actions?: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null)
  useEffect(() => {
    document.title = `${children} · OpenCloud`
  }, [children])
  return (
    <div className="spread">
      <h1 ref={ref}>{children}</h1>
      {actions && <div className="row">{actions}</div>}
    </div>
  )
}

export function KindBadge({ kind }: { kind: string }) {
  return <span className={`kind kind-${kind}`}>{kind}</span>
}

/** Table is a scrollable table with its column heads; children are its body's rows. */
export function Table({ caption, hideCaption, head, children }: { caption?: string; hideCaption?: boolean; head: string[]; children: ReactNode }) {
  return (
    <div className="table-wrap">
      <table>
        {caption && <caption className={hideCaption ? 'visually-hidden' : undefined}>{caption}</caption>}
        <thead>
          <tr>
            {head.map((h) => (
              <th key={h} scope="col">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  )
}
