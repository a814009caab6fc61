import { startPeer } from './peer'

export default async function globalSetup() {
  const t0 = Date.now()
  const p = await startPeer()
  console.log(`e2e: peer ${p.url} (pid ${p.pid}) ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
}
