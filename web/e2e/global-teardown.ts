import { stopPeer } from './peer'

export default async function globalTeardown() {
  await stopPeer()
}
