import type { ReactNode } from 'react'
import { NavLink } from 'react-router'
import { display, useAuth } from '../auth/context'

export function Layout({ children }: { children: ReactNode }) {
  const { me, admin, signOut } = useAuth()
  const link = (to: string, text: string, end = false) => (
    <li>
      <NavLink to={to} end={end}>
        {text}
      </NavLink>
    </li>
  )
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <div className="sidebar">
        <nav aria-label="Main">
          <NavLink to="/" className="brand" end>
            OpenCloud
          </NavLink>
          <ul>
            {link('/', 'Dashboard', true)}
            <li className="section" aria-hidden="true">
              Design
            </li>
            {link('/resources', 'Catalog')}
            {link('/workspaces', 'Workspaces')}
            {link('/workflows', 'Workflows')}
            <li className="section" aria-hidden="true">
              Run
            </li>
            {link('/executions', 'Executions')}
            <li className="section" aria-hidden="true">
              Share
            </li>
            {link('/areas', 'Collaborative areas')}
            {link('/peers', 'Peers')}
            <li className="section" aria-hidden="true">
              Infrastructure
            </li>
            {link('/nodes', 'Datacenter')}
            {admin && link('/admin', 'Administration')}
          </ul>
        </nav>
      </div>
      <div className="content">
        <header className="topbar">
          <span>
            Signed in as <strong>{display(me)}</strong>
            {admin && <span className="muted"> (administrator)</span>}
          </span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </header>
        <main id="main" tabIndex={-1}>
          {children}
        </main>
      </div>
    </div>
  )
}
