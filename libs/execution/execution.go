// Package execution holds the wire types of the scheduler family
// (oc-scheduler, oc-schedulerd, oc-monitord): booking requests, bookings,
// executions and their states, step figures, and the live events a client
// follows. The rules (availability, claims, transitions) live in the
// services.
//
// A booking request asks for one execution per firing of a cron (which may
// have a seconds field) between a start and an end:
//
//	POST /scheduler/{workflow_id}
//	{"name": null, "cron": "0-10 30 14 21 11 *", "mode": 1,
//	 "start": "2026-11-21T14:30:00Z", "end": "2026-12-21T14:30:00Z"}
package execution

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/workflow"
)

// Mode says when executions run.
type Mode int

// Modes.
const (
	// ASAP: one execution, at the first moment from now (or from start, if
	// later) when every resource is free.
	ASAP Mode = 0
	// Planned: one execution per firing of Cron between Start and End, or a
	// single one at Start without Cron.
	Planned Mode = 1
)

// MaxFirings bounds the executions one request may create.
const MaxFirings = 1000

// Request asks for executions of a workflow.
type Request struct {
	// ID is accepted as null, for the clients that send the field; a value is refused.
	ID *string `json:"id,omitempty" swaggertype:"string" extensions:"x-nullable"`
	// Name of the executions; default: the workflow's name. Null is accepted.
	Name *string `json:"name,omitempty" swaggertype:"string" extensions:"x-nullable"`
	// Cron: 5 fields (minute hour day month weekday) or 6 with seconds
	// first ("0-10 30 14 21 11 *": the seconds 0 to 10 of 14:30 on 21 Nov), in UTC.
	Cron  string    `json:"cron,omitempty" example:"0-10 30 14 21 11 *"`
	Mode  Mode      `json:"mode" enums:"0,1" example:"1"`
	Start time.Time `json:"start" example:"2026-11-21T14:30:00Z"`
	// End: the end of the cron range; without cron, the end of the single
	// execution's window. Optional.
	End *time.Time `json:"end,omitempty" example:"2026-12-21T14:30:00Z"`
	// DurationSeconds is how long one execution is expected to hold its
	// resources; default: the scheduler's OC_SCHEDULER_DEFAULT_DURATION.
	DurationSeconds int64 `json:"duration_seconds,omitempty" example:"600"`
}

// State is where an execution is in its life.
type State string

// States: scheduled → starting → running → succeeded | failed | cancelled;
// missed when it could not start in time.
const (
	Scheduled State = "scheduled"
	Starting  State = "starting"
	Running   State = "running"
	Succeeded State = "succeeded"
	Failed    State = "failed"
	Cancelled State = "cancelled"
	Missed    State = "missed"
)

// StepPending is a step's state (never an execution's) while its pod is
// created but not running yet: a step goes scheduled → pending → running →
// succeeded | failed, or cancelled with its execution.
const StepPending State = "pending"

// StepSkipped is a step's state (never an execution's) when its execution
// ended before the step started: a step it depends on failed, the
// execution could not start, or it was missed. A step that never started
// because its execution was cancelled is cancelled instead, so that a step
// reads why it did not run.
const StepSkipped State = "skipped"

// UnrunStep is the state a step that never started takes when its
// execution ends in state s: cancelled when s is cancelled, skipped
// otherwise.
func (s State) UnrunStep() State {
	if s == Cancelled {
		return Cancelled
	}
	return StepSkipped
}

// Unrun reports whether a step in state s has not started: it is as
// booked (scheduled) or not listed yet ("").
func (s State) Unrun() bool { return s == "" || s == Scheduled }

// SettleSteps gives every step of steps that never started the state
// ended.UnrunStep(), finished at at, once the execution ended in state
// ended; it returns the steps and the indexes of those it changed. A step
// that started keeps its state. Nothing changes while ended is not
// terminal.
func SettleSteps(steps []Step, ended State, at time.Time) ([]Step, []int) {
	if !ended.Terminal() {
		return steps, nil
	}
	out := slices.Clone(steps)
	var changed []int
	for i, st := range out {
		if !st.State.Unrun() {
			continue
		}
		st.State, st.FinishedAt = ended.UnrunStep(), &at
		out[i] = st
		changed = append(changed, i)
	}
	return out, changed
}

// States lists every state in life order.
var States = []State{Scheduled, Starting, Running, Succeeded, Failed, Cancelled, Missed}

// Terminal reports whether an execution in state s is over.
func (s State) Terminal() bool {
	return s == Succeeded || s == Failed || s == Cancelled || s == Missed
}

// Demand is what one execution holds of one resource during its window.
type Demand struct {
	CPUMillicores int64 `json:"cpu_millicores,omitempty"`
	MemoryBytes   int64 `json:"memory_bytes,omitempty"`
	GPUs          int64 `json:"gpus,omitempty"`
}

// Booking is one execution's hold on one compute or storage for a window.
type Booking struct {
	ID          string        `json:"id"`
	ExecutionID string        `json:"execution_id"`
	WorkflowID  string        `json:"workflow_id"`
	Resource    resource.Ref  `json:"resource"`
	Kind        resource.Kind `json:"kind" enums:"compute,storage"`
	Start       time.Time     `json:"start"`
	End         time.Time     `json:"end"`
	Demand      Demand        `json:"demand"`
}

// Conflict is a window a resource cannot give: the bookings already held
// in it, and when it is free next.
type Conflict struct {
	Resource resource.Ref `json:"resource"`
	Start    time.Time    `json:"start"`
	End      time.Time    `json:"end"`
	// Held are the bookings that leave too little of the resource.
	Held []Booking `json:"held"`
	// Problem says what runs out ("cpu: 6000m of 8000m held, 4000m asked").
	Problem string `json:"problem"`
}

// Plan is the answer of a booking or of its check: the windows asked for,
// and on a 409 the conflicts and the next free start for the whole plan.
type Plan struct {
	WorkflowID string     `json:"workflow_id"`
	Windows    []Window   `json:"windows"`
	Conflicts  []Conflict `json:"conflicts"`
	NextFree   *time.Time `json:"next_free,omitempty"`
	// Warnings name what this peer could not check (a partner peer's
	// resource, whose availability that peer keeps): it is booked anyway.
	Warnings   []string    `json:"warnings,omitempty"`
	Executions []Execution `json:"executions,omitempty"` // booked (not on a check)
}

// Window is one execution's time.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Step is one processing of an execution as it ran: the basis of usage
// accounting.
type Step struct {
	// Node is the processing's node id in the workflow graph.
	Node string `json:"node"`
	// State: scheduled until it starts, then pending → running →
	// succeeded | failed; cancelled with a cancelled execution; skipped when
	// its execution ended before it started.
	State      State      `json:"state" enums:"scheduled,pending,running,succeeded,failed,cancelled,skipped"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Message    string     `json:"message,omitempty"`
	// Requests are what the step asked for (from the processing).
	Requests resource.Requests `json:"requests"`
	// Compute is where it ran.
	Compute resource.Ref `json:"compute"`
}

// Execution is one run of a workflow.
type Execution struct {
	ID         string `json:"id"`
	WorkflowID string `json:"workflow_id"`
	// RequestID groups the executions one booking request created.
	RequestID string `json:"request_id"`
	Name      string `json:"name"`
	Owner     string `json:"owner"`
	State     State  `json:"state" enums:"scheduled,starting,running,succeeded,failed,cancelled,missed"`
	// Start and End are the booked window.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Reason says why it waits, failed or was missed ("no Kubernetes
	// cluster configured", "step \"ndvi\" failed: exit code 1").
	Reason string `json:"reason,omitempty"`
	// FailedStep names the step that failed.
	FailedStep string `json:"failed_step,omitempty"`
	// Graph and Resources are the workflow and its resources as they were
	// when booked: later edits do not change a booked run.
	Graph     workflow.Graph      `json:"graph"`
	Resources []resource.Resource `json:"resources"`
	Steps     []Step              `json:"steps"`
	// CancelRequested is set when a cancel arrived while it was starting or
	// running: the worker following it stops its Argo Workflow and writes
	// cancelled.
	CancelRequested bool `json:"cancel_requested,omitempty"`
	// Namespace is the Kubernetes namespace it runs in.
	Namespace string `json:"namespace,omitempty"`
	// Worker is the monitord worker following it while it is starting or
	// running, and WorkerUntil the end of that worker's lease: the worker
	// renews it while it lives, and once it has run out (the worker or its
	// daemon died) oc-schedulerd launches another worker, which re-attaches.
	// A worker stops following an execution whose lease another took.
	Worker      string     `json:"worker,omitempty"`
	WorkerUntil *time.Time `json:"worker_until,omitempty"`
	// Attempts counts the workers launched for it (1 when none died).
	Attempts   int        `json:"attempts,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	Version    int64      `json:"version"`
}

// Page is one page of executions.
type Page struct {
	Items  []Execution `json:"items"`
	Total  int64       `json:"total"`
	Limit  int         `json:"limit"`
	Offset int         `json:"offset"`
}

// StateChange is the data of an oc.execution.state event, and one kind of
// message on an execution's live stream.
type StateChange struct {
	ExecutionID string `json:"execution_id"`
	WorkflowID  string `json:"workflow_id"`
	From        State  `json:"from,omitempty"`
	To          State  `json:"to"`
	Reason      string `json:"reason,omitempty"`
	// Step is set when the change is one step's (To is then the step's state).
	Step string    `json:"step,omitempty"`
	At   time.Time `json:"at"`
}

// LogLine is the data of an oc.execution.log.<id> event: one line a
// step's pod wrote, published as it is written.
type LogLine struct {
	ExecutionID string `json:"execution_id"`
	Step        string `json:"step"`
	// Seq numbers the step's lines from 1 in the order it wrote them; a
	// line published twice (after its worker was replaced) has the same Seq.
	Seq  int64     `json:"seq" example:"1"`
	At   time.Time `json:"at"`
	Line string    `json:"line"`
}

// Limits of what is kept of a step's log: its last MaxLogLines lines, and
// no more than MaxLogBytes of their text; older lines are dropped. A line
// longer than MaxLogLine bytes is cut there.
const (
	MaxLogLines = 1000
	MaxLogBytes = 256 << 10
	MaxLogLine  = 16 << 10
)

// StepLog is what is kept of one step's log.
type StepLog struct {
	Step string `json:"step"`
	// Lines are its last lines, oldest first.
	Lines []LogLine `json:"lines"`
	// FirstSeq is the Seq of the oldest line kept (0: none): older lines
	// were dropped to keep the log bounded.
	FirstSeq int64 `json:"first_seq"`
	// LastSeq is the Seq of the step's last line so far: how many it wrote.
	LastSeq int64 `json:"last_seq"`
	// Complete is true once the log was read to the end of the step's container.
	Complete bool `json:"complete"`
}

// DetailLogLines is how many of the last lines of each step's log
// GET /scheduler/executions/{id} answers.
const DetailLogLines = 100

// Detail is an execution with the last lines of its steps' logs
// (GET /scheduler/executions/{id}).
type Detail struct {
	Execution
	// Logs are, for each step that wrote some, in step order, its last
	// lines (at most DetailLogLines; GET /scheduler/executions/{id}/logs
	// pages through all that is kept).
	Logs []StepLog `json:"logs"`
}

// LogPage is one page of a step's log (GET /scheduler/executions/{id}/logs).
type LogPage struct {
	Step string `json:"step"`
	// Items are the lines kept whose Seq is above the page's after, oldest first.
	Items    []LogLine `json:"items"`
	FirstSeq int64     `json:"first_seq"`
	LastSeq  int64     `json:"last_seq"`
	// Next is the after of the next page: the Seq of the last item (the
	// page's after when it has none).
	Next int64 `json:"next"`
	// More is true when lines after Next are kept already.
	More     bool `json:"more"`
	Complete bool `json:"complete"`
}

// Live is one message of GET /scheduler/executions/{id}/live (Server-Sent
// Events: event "state" carries a StateChange, event "log" a LogLine).
type Live struct {
	Event string          `json:"event" enums:"state,log"`
	Data  json.RawMessage `json:"data" swaggertype:"object"`
}
