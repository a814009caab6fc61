import { Handle, Position, type NodeProps } from '@xyflow/react'
import type { FlowNode } from '../lib/graph'
import { stateIcon } from './ui'

/** Which ends of a node can take links: data and storages send, computes receive. */
const SENDS = new Set(['data', 'processing', 'storage'])
const RECEIVES = new Set(['processing', 'storage', 'compute'])

/**
 * ResourceNode draws one node of a workflow: its kind, its label, and
 * either its validation problems (icon and text) or its step's state.
 */
export function ResourceNode({ id, data, selected }: NodeProps<FlowNode>) {
  const problems = data.problems
  const classes = ['flow-node', selected ? 'selected' : '', problems.length ? 'has-problem' : '', data.state ? `state-node-${data.state}` : '']
  return (
    <div className={classes.filter(Boolean).join(' ')} data-testid={`node-${id}`}>
      {RECEIVES.has(data.kind) && <Handle type="target" position={Position.Left} />}
      <div className={`node-kind kind-${data.kind}`}>{data.kind}</div>
      <div className="node-label">{data.label}</div>
      {data.label !== id && <div className="node-id">{id}</div>}
      {data.state && (
        <div className={`state state-${data.state}`} style={{ marginTop: '0.25rem' }}>
          <span aria-hidden="true">{stateIcon(data.state)}</span>
          {data.state}
        </div>
      )}
      {problems.length > 0 && (
        <div className="node-problem" role="note">
          <span aria-hidden="true">⚠ </span>
          {problems.length === 1 ? problems[0].message : `${problems.length} problems: ${problems[0].message}`}
        </div>
      )}
      {SENDS.has(data.kind) && <Handle type="source" position={Position.Right} />}
    </div>
  )
}

export const nodeTypes = { resource: ResourceNode }
