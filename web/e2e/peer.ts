// The peer the browser tests drive: the project's test cluster
// (scripts/cluster.sh) and the real all-in-one binary on a free port of
// 127.0.0.1 with a fresh data directory, both stopped by what started them.

import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const stateFile = join(tmpdir(), `opencloud-web-e2e-${process.ppid}.json`)

export const ADMIN_PASSWORD = 'e2e-admin-password-42'

/**
 * Compute is where the workflows' steps run: kwok's fake node-1 (pods
 * succeed after a second, with no logs), or, with OC_E2E_REAL_NODE=1, the
 * cluster's real node (containerd and a kubelet: real containers, real logs).
 */
export const realNode = process.env.OC_E2E_REAL_NODE === '1'
export const compute = realNode
  ? { selector: 'node.opencloud.io/real=true', logs: true }
  : { selector: 'node.opencloud.io/name=node-1', logs: false }

export interface PeerState {
  url: string
  pid: number
  dataDir: string
  logFile: string
  clusterDir?: string
  kubeconfig?: string
}

export function peer(): PeerState {
  return JSON.parse(readFileSync(process.env.OC_E2E_STATE ?? stateFile, 'utf8')) as PeerState
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => (typeof a === 'object' && a ? ok(a.port) : fail(new Error('no port'))))
    })
  })
}

async function cluster(args: string[], timeoutMs: number): Promise<string> {
  // OC_E2E_CLUSTER_SCRIPT: another copy of scripts/cluster.sh (and of the tools beside it).
  const script = process.env.OC_E2E_CLUSTER_SCRIPT ?? join(root, 'scripts', 'cluster.sh')
  const { stdout, stderr } = await run('bash', [script, ...args], {
    timeout: timeoutMs,
    maxBuffer: 16 << 20,
  })
  return stdout + stderr
}

export async function startPeer(): Promise<PeerState> {
  const binary = process.env.OC_E2E_BINARY ?? join(root, 'bin', 'opencloud')
  const state: Partial<PeerState> = {}
  if (process.env.OC_E2E_CLUSTER !== 'off') {
    const dir = mkdtempSync(join(tmpdir(), 'opencloud-web-e2e-cluster-'))
    const t0 = Date.now()
    try {
      await cluster(['up', dir, ...(realNode ? ['--real-node'] : [])], 5 * 60_000)
    } catch (e) {
      rmSync(dir, { recursive: true, force: true })
      throw new Error(`the test cluster did not start (make cluster-build builds it): ${String(e)}`)
    }
    console.log(`e2e: test cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s${realNode ? ' (with the real node)' : ''}`)
    state.clusterDir = dir
    state.kubeconfig = join(dir, 'kubeconfig')
  }
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'opencloud-web-e2e-data-'))
  const logFile = join(dataDir, 'opencloud.log')
  const out = openSync(logFile, 'a')
  const url = `http://127.0.0.1:${port}`
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dataDir,
    OC_HTTP_ADDR: `127.0.0.1:${port}`,
    OC_PUBLIC_URL: url,
    OC_DATA: dataDir,
    OC_ADMIN_PASSWORD: ADMIN_PASSWORD,
    OC_LOG_LEVEL: 'info',
  }
  if (state.kubeconfig) env.OC_KUBECONFIG = state.kubeconfig
  const child = spawn(binary, [], { env, stdio: ['ignore', out, out], detached: false })
  if (!child.pid) throw new Error(`could not start ${binary} (make build builds it)`)
  child.unref()
  const full: PeerState = { url, pid: child.pid, dataDir, logFile, ...state }
  writeFileSync(stateFile, JSON.stringify(full))
  process.env.OC_E2E_STATE = stateFile
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${binary} exited: ${readFileSync(logFile, 'utf8').slice(-4000)}`)
    try {
      const r = await fetch(`${url}/auth/readyz`)
      if (r.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${binary} was not ready in 60 s: ${readFileSync(logFile, 'utf8').slice(-4000)}`)
    await new Promise((r) => setTimeout(r, 200))
  }
  const page = await (await fetch(`${url}/`)).text()
  if (!page.includes('id="root"')) throw new Error(`${binary} serves no web front-end at / (run make web, then make build)`)
  return full
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export async function stopPeer(): Promise<void> {
  let state: PeerState
  try {
    state = peer()
  } catch {
    return
  }
  if (alive(state.pid)) {
    process.kill(state.pid, 'SIGTERM')
    const deadline = Date.now() + 20_000
    while (alive(state.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    if (alive(state.pid)) process.kill(state.pid, 'SIGKILL')
  }
  if (state.clusterDir) {
    try {
      await cluster(['down', state.clusterDir, '--clean'], 2 * 60_000)
    } catch (e) {
      console.error(`e2e: stopping the test cluster: ${String(e)}`)
    }
  }
  if (process.env.OC_E2E_KEEP !== '1') rmSync(state.dataDir, { recursive: true, force: true })
  rmSync(stateFile, { force: true })
}
