import { lazy, Suspense, useEffect, useState, useSyncExternalStore } from 'react'
import { Route, Routes, useLocation, useNavigate } from 'react-router'
import { api, message } from './api/client'
import type { Me } from './api/types'
import { AuthContext } from './auth/context'
import { session } from './auth/session'
import { Layout } from './components/Layout'
import { ErrorBox, Loading } from './components/ui'
import { Catalog } from './pages/Catalog'
import { Dashboard } from './pages/Dashboard'
import { NotFound } from './pages/NotFound'
import { ResourceForm } from './pages/ResourceForm'
import { ResourcePage } from './pages/ResourcePage'
import { WorkspacePage, Workspaces } from './pages/Workspaces'

// The drawing pages carry React Flow: loaded when first opened.
const Workflows = lazy(() => import('./pages/Workflows'))
const Editor = lazy(() => import('./pages/Editor'))
const Booking = lazy(() => import('./pages/Booking'))
const Executions = lazy(() => import('./pages/Executions'))
const ExecutionPage = lazy(() => import('./pages/ExecutionPage'))
const Areas = lazy(() => import('./pages/Areas'))
const AreaPage = lazy(() => import('./pages/AreaPage'))
const Peers = lazy(() => import('./pages/Peers'))
const Datacenter = lazy(() => import('./pages/Datacenter'))
const Admin = lazy(() => import('./pages/Admin'))

function useSignedIn(): boolean {
  return useSyncExternalStore(
    (l) => session.subscribe(l),
    () => session.signedIn,
  )
}

export function App() {
  const location = useLocation()
  const signedIn = useSignedIn()
  if (location.pathname === '/callback') return <Callback />
  if (!signedIn) return <SignIn />
  return <SignedIn />
}

function SignIn() {
  const location = useLocation()
  const [error, setError] = useState<string>()
  useEffect(() => {
    document.title = 'Sign in · OpenCloud'
  }, [])
  const go = () => {
    setError(undefined)
    session.signIn(location.pathname + location.search).catch((e: unknown) => setError(message(e)))
  }
  return (
    <main className="signin panel" id="main">
      <h1>OpenCloud</h1>
      <p>Browse this peer's catalog and its partners', design workflows, book them and watch them run.</p>
      {error && (
        <p className="alert" role="alert">
          {error}
        </p>
      )}
      <button type="button" className="primary" onClick={go}>
        Sign in
      </button>
    </main>
  )
}

function Callback() {
  const navigate = useNavigate()
  const [error, setError] = useState<string>()
  useEffect(() => {
    let done = false
    session
      .complete(window.location.search)
      .then((to) => {
        if (!done) navigate(to || '/', { replace: true })
      })
      .catch((e: unknown) => setError(message(e)))
    return () => {
      done = true
    }
  }, [navigate])
  if (error) {
    return (
      <main className="signin panel" id="main">
        <h1>Sign-in did not complete</h1>
        <p className="alert" role="alert">
          {error}
        </p>
        <button type="button" className="primary" onClick={() => void session.signIn('/')}>
          Sign in again
        </button>
      </main>
    )
  }
  return (
    <main className="signin" id="main">
      <h1 className="visually-hidden">Signing in</h1>
      <Loading what="Signing in" />
    </main>
  )
}

function SignedIn() {
  const [me, setMe] = useState<Me>()
  const [error, setError] = useState<unknown>()
  useEffect(() => {
    api.get<Me>('/auth/me').then(setMe, setError)
  }, [])
  if (error) {
    return (
      <main className="signin" id="main">
        <h1>OpenCloud</h1>
        <ErrorBox error={error} title="Your profile could not be read" />
        <button type="button" onClick={() => session.expire()}>
          Sign in again
        </button>
      </main>
    )
  }
  if (!me) {
    return (
      <main className="signin" id="main">
        <h1 className="visually-hidden">OpenCloud</h1>
        <Loading />
      </main>
    )
  }
  const auth = { me, admin: (me.roles ?? []).includes('admin'), signOut: () => void session.signOut() }
  return (
    <AuthContext.Provider value={auth}>
      <Layout>
        <Suspense fallback={<Loading />}>
          <Routes>
            <Route path="/" element={<Dashboard />} />
            <Route path="/resources" element={<Catalog />} />
            <Route path="/resources/new" element={<ResourceForm />} />
            <Route path="/resources/:id" element={<ResourcePage />} />
            <Route path="/resources/:id/edit" element={<ResourceForm />} />
            <Route path="/workspaces" element={<Workspaces />} />
            <Route path="/workspaces/:id" element={<WorkspacePage />} />
            <Route path="/workflows" element={<Workflows />} />
            <Route path="/workflows/:id" element={<Editor />} />
            <Route path="/workflows/:id/book" element={<Booking />} />
            <Route path="/executions" element={<Executions />} />
            <Route path="/executions/:id" element={<ExecutionPage />} />
            <Route path="/areas" element={<Areas />} />
            <Route path="/areas/:id" element={<AreaPage />} />
            <Route path="/peers" element={<Peers />} />
            <Route path="/nodes" element={<Datacenter />} />
            <Route path="/admin/*" element={<Admin />} />
            <Route path="*" element={<NotFound />} />
          </Routes>
        </Suspense>
      </Layout>
    </AuthContext.Provider>
  )
}
