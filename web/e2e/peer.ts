// The peer the browser tests drive: the project's test cluster
// (scripts/cluster.sh) and the real all-in-one binary on a free port of
// 127.0.0.1 with a fresh data directory, both stopped by what started them;
// and the peers a spec starts itself (launchTracked), such as two peers
// that federate.

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
  let launched: Launched
  try {
    launched = await launchPeer({ kubeconfig: state.kubeconfig })
  } catch (e) {
    if (state.clusterDir) await cluster(['down', state.clusterDir, '--clean'], 2 * 60_000).catch(() => undefined)
    throw e
  }
  const full: PeerState = { url: launched.url, pid: launched.pid, dataDir: launched.dataDir, logFile: launched.logFile, ...state }
  writeFileSync(stateFile, JSON.stringify(full))
  process.env.OC_E2E_STATE = stateFile
  const url = full.url
  const page = await (await fetch(`${url}/`)).text()
  if (!page.includes('id="root"')) throw new Error(`${binary()} serves no web front-end at / (run make web, then make build)`)
  return full
}

const binary = () => process.env.OC_E2E_BINARY ?? join(root, 'bin', 'opencloud')

/** Launched is an all-in-one peer process started by launchPeer. */
export interface Launched {
  name?: string
  url: string
  pid: number
  dataDir: string
  logFile: string
}

export interface LaunchOptions {
  /** name is the peer's OC_PEER_NAME (default: the host name). */
  name?: string
  kubeconfig?: string
  /** env is more configuration, such as OC_PEER_HEARTBEAT. */
  env?: Record<string, string>
}

// The peers a spec starts itself are listed here until stopped, so that
// the global teardown stops those a crashed worker left behind.
const leftoversFile = () => (process.env.OC_E2E_STATE ?? stateFile) + '.peers.json'

function leftovers(): Launched[] {
  try {
    return JSON.parse(readFileSync(leftoversFile(), 'utf8')) as Launched[]
  } catch {
    return []
  }
}

function keepLeftovers(list: Launched[]) {
  if (list.length) writeFileSync(leftoversFile(), JSON.stringify(list))
  else rmSync(leftoversFile(), { force: true })
}

/**
 * launchPeer starts the all-in-one binary on a free port of 127.0.0.1
 * with a fresh data directory and returns once it serves requests; a port
 * taken meanwhile is tried again with another.
 */
export async function launchPeer(opts: LaunchOptions = {}): Promise<Launched> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchOnce(opts)
    } catch (e) {
      if (attempt >= 3 || !String(e).includes('address already in use')) throw e
    }
  }
}

async function launchOnce(opts: LaunchOptions): Promise<Launched> {
  const bin = binary()
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'opencloud-web-e2e-data-'))
  const logFile = join(dataDir, 'opencloud.log')
  const out = openSync(logFile, 'a')
  const url = `http://127.0.0.1:${port}`
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dataDir,
    OC_LOG_LEVEL: 'info',
    ...opts.env,
    OC_HTTP_ADDR: `127.0.0.1:${port}`,
    OC_PUBLIC_URL: url,
    OC_DATA: dataDir,
    OC_ADMIN_PASSWORD: ADMIN_PASSWORD,
  }
  if (opts.name) env.OC_PEER_NAME = opts.name
  if (opts.kubeconfig) env.OC_KUBECONFIG = opts.kubeconfig
  const child = spawn(bin, [], { env, stdio: ['ignore', out, out], detached: false })
  if (!child.pid) throw new Error(`could not start ${bin} (make build builds it)`)
  child.unref()
  const launched: Launched = { name: opts.name, url, pid: child.pid, dataDir, logFile }
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = readFileSync(logFile, 'utf8').slice(-4000)
      rmSync(dataDir, { recursive: true, force: true })
      throw new Error(`${bin} exited: ${log}`)
    }
    try {
      const r = await fetch(`${url}/auth/readyz`)
      if (r.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stopProcess(child.pid)
      throw new Error(`${bin} was not ready in 60 s: ${readFileSync(logFile, 'utf8').slice(-4000)}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  return launched
}

/** launchTracked is launchPeer for a spec: the global teardown stops the peer should the spec not. */
export async function launchTracked(opts: LaunchOptions): Promise<Launched> {
  const p = await launchPeer(opts)
  keepLeftovers([...leftovers(), p])
  return p
}

/** stopTracked stops a peer of launchTracked (by its PID) and removes its data. */
export async function stopTracked(p: Launched): Promise<void> {
  await stopProcess(p.pid)
  if (process.env.OC_E2E_KEEP !== '1') rmSync(p.dataDir, { recursive: true, force: true })
  keepLeftovers(leftovers().filter((x) => x.pid !== p.pid))
}

async function stopLeftovers() {
  for (const p of leftovers()) {
    // Only a process still running the binary: the PID may have been reused.
    let cmd = ''
    try {
      cmd = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0')[0]
    } catch {
      // gone
    }
    if (cmd === binary()) await stopTracked(p)
    else if (process.env.OC_E2E_KEEP !== '1') rmSync(p.dataDir, { recursive: true, force: true })
  }
  keepLeftovers([])
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** stopProcess stops a process by its PID: SIGTERM, then SIGKILL after 20 s. */
export async function stopProcess(pid: number): Promise<void> {
  if (!alive(pid)) return
  process.kill(pid, 'SIGTERM')
  const deadline = Date.now() + 20_000
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  if (alive(pid)) process.kill(pid, 'SIGKILL')
}

export async function stopPeer(): Promise<void> {
  await stopLeftovers()
  let state: PeerState
  try {
    state = peer()
  } catch {
    return
  }
  await stopProcess(state.pid)
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
