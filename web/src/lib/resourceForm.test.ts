import { describe, expect, it } from 'vitest'
import type { Resource } from '../api/types'
import { formPath, fromResource, toInput } from './resourceForm'

describe('resource form', () => {
  it('builds the body of the chosen kind only', () => {
    const input = toInput({
      kind: 'processing',
      name: ' Echo ',
      visibility: 'public',
      tags: 'a, b,,c',
      groups: 'ops',
      'pricing.model': 'free',
      'pricing.amount': '3',
      'data.location': 's3://left/over',
      'processing.image': 'busybox:1.36',
      'processing.command': 'sh\n-c\necho hi\n',
      'processing.env': 'A=1\nB = two=2',
      'processing.open_source': true,
      'processing.requests.memory_bytes': '64',
      'processing.requests.cpu_millicores': 'lots',
      'processing.annotations': 'opencloud.io/run-for=5s',
      'processing.ports': '80, 443',
    })
    expect(input).toEqual({
      kind: 'processing',
      name: 'Echo',
      visibility: 'public',
      tags: ['a', 'b', 'c'],
      pricing: { model: 'free' },
      processing: {
        image: 'busybox:1.36',
        command: ['sh', '-c', 'echo hi'],
        env: { A: '1', B: 'two=2' },
        open_source: true,
        requests: { memory_bytes: 64 << 20, cpu_millicores: 'lots' },
        annotations: [{ key: 'opencloud.io/run-for', value: '5s' }],
        ports: [80, 443],
      },
    })
  })

  it('sends an empty kind object for the server to name what is missing', () => {
    expect(toInput({ kind: 'data', name: 'x', visibility: 'private', 'pricing.model': 'free' })).toMatchObject({ data: {} })
  })

  it('fills back what it sends', () => {
    const r = {
      id: '1', peer_id: 'local', creator: 'u', owners: ['u'], version: 2, created_at: '', updated_at: '',
      kind: 'compute', name: 'Node', visibility: 'groups', groups: ['ops'], tags: ['x'],
      pricing: { model: 'subscription', amount: 10, currency: 'EUR', period: 'month' },
      compute: { cluster_ref: 'local', architecture: 'amd64', memory_bytes: 32 * 2 ** 30, node_selector: [{ key: 'a', value: 'b' }], security_standards: ['ISO27001'] },
    } as Resource
    const v = fromResource(r)
    expect(v['compute.memory_bytes']).toBe('32')
    expect(v['compute.node_selector']).toBe('a=b')
    const { kind, name, visibility, groups, tags, pricing, compute } = r
    expect(toInput(v)).toEqual({ kind, name, visibility, groups, tags, pricing, compute })
  })

  it('finds the field of a server problem', () => {
    expect(formPath('data.location')).toBe('data.location')
    expect(formPath('processing.env.HOME')).toBe('processing.env')
    expect(formPath('tags[3]')).toBe('tags')
    expect(formPath('pricing.currency')).toBe('pricing.currency')
    expect(formPath('If-Match')).toBe('If-Match')
  })
})
