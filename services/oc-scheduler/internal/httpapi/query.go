package httpapi

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server"

	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
)

var (
	listParams    = []string{"workflow", "state", "from", "to", "request", "sort"}
	bookingParams = []string{"resource", "from", "to"}
	logParams     = []string{"step", "after"}
)

// logQuery is what GET /executions/{id}/logs asks for.
type logQuery struct {
	step  string
	after int64
	limit int
}

// parseLogs reads the parameters of GET /executions/{id}/logs, reporting
// every bad one.
func parseLogs(c *gin.Context) (logQuery, error) {
	lq := server.NewListQuery(c, logParams)
	q := logQuery{limit: lq.Page().Limit}
	if _, ok := lq.Get("offset"); ok {
		lq.Add("offset", "not taken here: page with after, the seq of the last line you have (next in the previous page)")
	}
	step, ok := lq.Get("step")
	if !ok || step == "" {
		lq.Add("step", "give the step whose log to read: its processing's node id in the workflow")
	}
	q.step = step
	if s, ok := lq.Get("after"); ok {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			lq.Add("after", "expected an integer >= 0: the seq of the last line you have")
		}
		q.after = n
	}
	return q, lq.Err()
}

// timeParam reads a time parameter in RFC 3339.
func timeParam(q *server.ListQuery, name string) time.Time {
	s, ok := q.Get(name)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		q.Add(name, "expected a time in RFC 3339 (e.g. 2026-11-21T14:30:00Z)")
	}
	return t.UTC()
}

// parseList reads the filters of GET /executions, reporting every bad one.
func parseList(c *gin.Context) (executions.Query, error) {
	lq := server.NewListQuery(c, listParams, "state")
	page := lq.Page()
	q := executions.Query{Limit: page.Limit, Offset: page.Offset, Sort: []executions.Sort{{Field: executions.SortStart}}}
	if s, ok := lq.Get("workflow"); ok {
		id, ok := parseID(s)
		if !ok {
			lq.Add("workflow", "expected a workflow id (UUID)")
		}
		q.WorkflowID = id
	}
	if s, ok := lq.Get("request"); ok {
		id, ok := parseID(s)
		if !ok {
			lq.Add("request", "expected a booking request id (the request_id of its executions, a UUID)")
		}
		q.RequestID = id
	}
	for _, s := range lq.Values("state") {
		st := execution.State(s)
		if !slices.Contains(execution.States, st) {
			names := make([]string, len(execution.States))
			for i, x := range execution.States {
				names[i] = string(x)
			}
			lq.Add("state", "expected one of %s", strings.Join(names, ", "))
			break
		}
		if !slices.Contains(q.States, st) {
			q.States = append(q.States, st)
		}
	}
	q.From, q.To = timeParam(lq, "from"), timeParam(lq, "to")
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		lq.Add("to", "must be after from")
	}
	if s, ok := lq.Get("sort"); ok {
		f := executions.SortField(strings.TrimPrefix(s, "-"))
		if f != executions.SortStart && f != executions.SortCreatedAt {
			lq.Add("sort", "expected start, -start, created_at or -created_at")
		}
		q.Sort = []executions.Sort{{Field: f, Desc: strings.HasPrefix(s, "-")}}
	}
	if err := lq.Err(); err != nil {
		return executions.Query{}, err
	}
	return q, nil
}

func isID(s string) bool { _, ok := parseID(s); return ok }

type bookingsQuery struct {
	ref      resource.Ref
	from, to time.Time
	page     server.Page
}

// parseBookings reads the parameters of GET /bookings.
func parseBookings(c *gin.Context) (bookingsQuery, error) {
	lq := server.NewListQuery(c, bookingParams)
	q := bookingsQuery{page: lq.Page()}
	s, ok := lq.Get("resource")
	peer, id, cut := strings.Cut(s, "/")
	switch {
	case !ok:
		lq.Add("resource", "required: the compute or storage as peer/id")
	case !cut || peer == "" || len(peer) > 200 || strings.ContainsAny(peer, " /") || !isID(id):
		lq.Add("resource", "expected a resource reference as peer/id (e.g. local/3f1c2a9e-6a43-4d3b-9a55-1a2b3c4d5e6f)")
	}
	q.ref = resource.Ref{Peer: peer, ID: id}
	q.from, q.to = timeParam(lq, "from"), timeParam(lq, "to")
	if !q.from.IsZero() && !q.to.IsZero() && !q.to.After(q.from) {
		lq.Add("to", "must be after from")
	}
	if err := lq.Err(); err != nil {
		return bookingsQuery{}, err
	}
	return q, nil
}
