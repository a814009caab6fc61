import { useCallback, useEffect, useEffectEvent, useState } from 'react'

export interface Async<T> {
  data: T | undefined
  error: unknown
  loading: boolean
  reload: () => void
  set: (v: T) => void
}

interface Result<T> {
  key: string
  data?: T
  error?: unknown
}

/**
 * useAsync runs load when deps change (the previous call aborted) and on
 * reload; the last data stays while the next loads.
 */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: (string | number | boolean | undefined | null)[]): Async<T> {
  const [tick, setTick] = useState(0)
  const key = JSON.stringify([...deps, tick])
  const [result, setResult] = useState<Result<T>>({ key: '' })
  const run = useEffectEvent((signal: AbortSignal) => load(signal))
  useEffect(() => {
    const ctl = new AbortController()
    run(ctl.signal).then(
      (data) => {
        if (!ctl.signal.aborted) setResult({ key, data })
      },
      (error: unknown) => {
        if (!ctl.signal.aborted) setResult((r) => ({ key, data: r.data, error }))
      },
    )
    return () => ctl.abort()
  }, [key])
  const reload = useCallback(() => setTick((t) => t + 1), [])
  const set = useCallback((data: T) => setResult((r) => ({ ...r, data })), [])
  return { data: result.data, error: result.error, loading: result.key !== key, reload, set }
}
