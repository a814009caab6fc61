import { display, useAuth } from '../auth/context'

/** Who names a user by subject; the signed-in user by name. */
export function Who({ sub }: { sub: string }) {
  const { me } = useAuth()
  if (sub === me.sub) return <span>{display(me)} (you)</span>
  return <span className="mono">{sub}</span>
}
