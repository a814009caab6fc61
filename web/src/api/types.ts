// The shapes the services answer with, as their Swagger documents them
// (services/*/docs/*_swagger.yaml).

export type Kind = 'data' | 'processing' | 'storage' | 'compute' | 'workflow'
export const KINDS: Kind[] = ['data', 'processing', 'storage', 'compute', 'workflow']
export type Visibility = 'public' | 'partners' | 'groups' | 'private'
export const VISIBILITIES: Visibility[] = ['public', 'partners', 'groups', 'private']

export interface Page<T> {
  items: T[] | null
  total: number
  limit: number
  offset: number
}

export interface Ref {
  peer?: string
  id: string
}

export interface Label {
  key: string
  value?: string
}

export interface Pricing {
  model: 'free' | 'per_use' | 'per_hour' | 'per_gb' | 'subscription'
  amount?: number
  currency?: string
  period?: 'day' | 'week' | 'month' | 'year'
}

export interface Requests {
  cpu_millicores?: number
  memory_bytes?: number
  gpus?: number
}

export interface DataSpec {
  location: string
  format?: string
  jurisdiction?: string
  personal_data?: boolean
  size_bytes?: number
}

export interface ProcessingSpec {
  image: string
  command?: string[]
  args?: string[]
  env?: Record<string, string>
  open_source?: boolean
  ports?: number[]
  requests?: Requests
  annotations?: Label[]
}

export interface StorageSpec {
  endpoint: string
  bucket: string
  region?: string
  jurisdiction?: string
  encryption?: string
  capacity_bytes?: number
}

export interface ComputeSpec {
  cluster_ref: string
  architecture: string
  country?: string
  location?: string
  cpu_cores?: number
  memory_bytes?: number
  gpus?: number
  gpu_model?: string
  carbon_intensity?: number
  security_standards?: string[]
  node_selector?: Label[]
}

export interface ResourceInput {
  kind: Kind
  name: string
  description?: string
  short_description?: string
  visibility?: Visibility
  groups?: string[]
  tags?: string[]
  license?: string
  logo?: string
  owners?: string[]
  pricing?: Pricing
  data?: DataSpec
  processing?: ProcessingSpec
  storage?: StorageSpec
  compute?: ComputeSpec
  workflow?: { workflow_id: string }
}

export interface Resource extends ResourceInput {
  id: string
  peer_id: string
  creator: string
  owners: string[]
  version: number
  created_at: string
  updated_at: string
}

export interface FieldProblem {
  field: string
  problem: string
}

// Workspaces and collaborative areas (oc-workspace).

export interface WorkspaceEntry {
  ref: Ref
  added_at: string
}

export interface Workspace {
  id: string
  name: string
  description?: string
  owner: string
  resources: WorkspaceEntry[] | null
  workflow_id?: string
  version: number
  created_at: string
  updated_at: string
}

export interface Resolved {
  ref: Ref
  added_at: string
  available: boolean
  reason?: string
  resource?: Resource
}

export interface Stamp {
  at: string
  by: string
  peer?: string
  clock?: number
}

export type RuleKind = 'open_source_processings' | 'no_personal_data' | 'jurisdictions' | 'results_members_only' | 'compute_peers'
export const RULE_KINDS: RuleKind[] = [
  'open_source_processings',
  'no_personal_data',
  'jurisdictions',
  'results_members_only',
  'compute_peers',
]

export interface Rule {
  id?: string
  kind: RuleKind
  jurisdictions?: string[]
  peers?: string[]
  note?: string
  stamp?: Stamp
}

export type SharedKind = 'workspace' | 'workflow' | 'resource'

export interface Shared {
  kind: SharedKind
  ref: Ref
  name: string
  stamp: Stamp
}

export interface Area {
  id: string
  name: string
  description?: string
  created_by: string
  created_at: string
  updated_at: string
  version: number
  members: { subject: string; admin: boolean; stamp: Stamp }[] | null
  peers: { peer: string; stamp: Stamp }[] | null
  rules: Rule[] | null
  shared: Shared[] | null
}

export interface Violation {
  area_id: string
  area_name: string
  rule_id: string
  rule_kind: RuleKind
  item?: Ref
  item_kind?: SharedKind
  resource?: Ref
  message: string
}

export interface Report {
  violations: Violation[] | null
  unchecked: { resource: Ref; reason: string }[] | null
}

export interface Op {
  id: string
  seq: number
  type: string
  stamp: Stamp
  data?: Record<string, unknown>
}

// Workflows (oc-workflow).

export type NodeKind = 'data' | 'processing' | 'storage' | 'compute'
export type LinkKind = 'data' | 'dependency' | 'storage_read' | 'storage_write' | 'compute'

export interface GraphNode {
  id: string
  kind: NodeKind
  name?: string
  resource?: Ref
  position?: { x: number; y: number }
}

export interface GraphLink {
  id: string
  kind: LinkKind
  from: string
  to: string
  source?: string
  destination?: string
}

export interface Graph {
  nodes: GraphNode[] | null
  links: GraphLink[] | null
}

export interface WorkflowInput {
  name: string
  description?: string
  tags?: string[]
  graph: Graph
  version?: number
}

export interface Problem {
  code: string
  message: string
  node?: string
  link?: string
  field?: string
  path?: string[]
  area?: string
  rule?: string
}

export interface Validation {
  valid: boolean
  problems: Problem[] | null
  warnings: Problem[] | null
}

export interface Workflow extends WorkflowInput {
  id: string
  owner: string
  version: number
  created_at: string
  updated_at: string
  workspace_id?: string
  workspace_in_sync?: boolean
  published_as?: string
  warnings?: Problem[] | null
}

// Bookings and executions (oc-scheduler).

export type ExecState = 'scheduled' | 'starting' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'missed'
export const EXEC_STATES: ExecState[] = ['scheduled', 'starting', 'running', 'succeeded', 'failed', 'cancelled', 'missed']
export type StepState = 'scheduled' | 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped'

export interface Step {
  node: string
  state: StepState
  message?: string
  started_at?: string
  finished_at?: string
  compute?: Ref
}

export interface Execution {
  id: string
  name: string
  workflow_id: string
  owner: string
  state: ExecState
  reason?: string
  failed_step?: string
  start: string
  end: string
  started_at?: string
  finished_at?: string
  created_at: string
  updated_at: string
  cancel_requested?: boolean
  request_id?: string
  namespace?: string
  graph?: Graph
  resources?: Resource[] | null
  steps?: Step[] | null
  /** logs are the last lines of each step's log (GET /scheduler/executions/{id}). */
  logs?: StepLog[] | null
  version: number
}

export interface StepLog {
  step: string
  lines: LogLine[] | null
  first_seq: number
  last_seq: number
  complete: boolean
}

export interface BookingRequest {
  name?: string | null
  mode: 0 | 1
  cron?: string
  start?: string
  end?: string
  duration_seconds?: number
}

export interface Booking {
  id: string
  execution_id: string
  workflow_id: string
  kind: 'compute' | 'storage'
  resource: Ref
  start: string
  end: string
}

export interface Conflict {
  resource: Ref
  start: string
  end: string
  problem: string
  held: Booking[] | null
}

export interface Plan {
  workflow_id: string
  windows: { start: string; end: string }[] | null
  conflicts: Conflict[] | null
  next_free?: string
  warnings: string[] | null
  executions?: Execution[] | null
}

export interface StateChange {
  execution_id: string
  workflow_id: string
  from?: string
  to: string
  reason?: string
  step?: string
  at: string
}

export interface LogLine {
  execution_id: string
  step: string
  /** seq numbers a step's lines from 1; a line sent twice has the same seq. */
  seq: number
  at: string
  line: string
}

// The cluster (oc-datacenter).

export interface NodeResources {
  cpu_millicores: number
  memory_bytes: number
  gpus: number
  pods: number
}

export interface ClusterNode {
  name: string
  architecture: string
  os: string
  ready: boolean
  unschedulable: boolean
  gpu_model?: string
  capacity: NodeResources
  allocatable: NodeResources
  labels: Label[] | null
}

export interface Published {
  node: string
  resource_id: string
  action: 'created' | 'updated' | 'unchanged' | 'failed'
  error?: string
}

// Users, groups and clients (oc-auth).

export interface Me {
  sub: string
  username?: string
  display_name?: string
  email?: string
  groups?: string[] | null
  roles?: string[] | null
  client_id?: string
}

export interface User {
  id: string
  username: string
  display_name?: string
  email?: string
  groups: string[] | null
  roles: string[] | null
  disabled: boolean
  version: number
  created_at: string
}

export interface Group {
  name: string
  description?: string
  built_in?: boolean
  version: number
}

export interface Client {
  client_id: string
  name: string
  public: boolean
  built_in?: boolean
  grant_types: string[] | null
  redirect_uris: string[] | null
  roles: string[] | null
  version: number
  client_secret?: string
}
