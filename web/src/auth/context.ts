import { createContext, useContext } from 'react'
import type { Me } from '../api/types'

export interface Auth {
  me: Me
  admin: boolean
  signOut: () => void
}

export const AuthContext = createContext<Auth | undefined>(undefined)

export function useAuth(): Auth {
  const a = useContext(AuthContext)
  if (!a) throw new Error('useAuth outside the signed-in app')
  return a
}

/** display is how a person is named on screen. */
export function display(me: Me): string {
  return me.display_name || me.username || me.sub
}
