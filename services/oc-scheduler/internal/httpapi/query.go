package httpapi

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server"

	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
)

var (
	listParams    = []string{"workflow", "state", "from", "to", "request", "sort", "limit", "offset"}
	bookingParams = []string{"resource", "from", "to", "limit", "offset"}
)

// problems gathers what is wrong with a query string.
type problems []apierror.FieldError

func (b *problems) add(field, format string, args ...any) {
	*b = append(*b, apierror.FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// known refuses unknown and repeated parameters (repeatable ones aside).
func (b *problems) known(c *gin.Context, allowed []string, repeatable ...string) {
	values := c.Request.URL.Query()
	for _, name := range slices.Sorted(maps.Keys(values)) {
		switch vs := values[name]; {
		case !slices.Contains(allowed, name):
			b.add(name, "unknown parameter; expected one of %s", strings.Join(allowed, ", "))
		case !slices.Contains(repeatable, name) && len(vs) > 1:
			b.add(name, "given %d times; give it once", len(vs))
		}
	}
}

func (b *problems) page(c *gin.Context) server.Page {
	page, err := server.ParsePage(c)
	var ae *apierror.Error
	if errors.As(err, &ae) {
		if fields, ok := ae.Details.([]apierror.FieldError); ok {
			*b = append(*b, fields...)
		}
	}
	return page
}

func (b *problems) time(c *gin.Context, name string) time.Time {
	s, ok := c.GetQuery(name)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		b.add(name, "expected a time in RFC 3339 (e.g. 2026-11-21T14:30:00Z)")
	}
	return t.UTC()
}

func (b problems) err() error {
	if len(b) == 0 {
		return nil
	}
	return apierror.Invalid(b...)
}

// parseList reads the filters of GET /executions, reporting every bad one.
func parseList(c *gin.Context) (executions.Query, error) {
	var bad problems
	bad.known(c, listParams, "state")
	page := bad.page(c)
	q := executions.Query{Limit: page.Limit, Offset: page.Offset, Sort: []executions.Sort{{Field: executions.SortStart}}}
	if s, ok := c.GetQuery("workflow"); ok {
		id, ok := parseID(s)
		if !ok {
			bad.add("workflow", "expected a workflow id (UUID)")
		}
		q.WorkflowID = id
	}
	if s, ok := c.GetQuery("request"); ok {
		id, ok := parseID(s)
		if !ok {
			bad.add("request", "expected a booking request id (the request_id of its executions, a UUID)")
		}
		q.RequestID = id
	}
	for _, s := range c.QueryArray("state") {
		st := execution.State(s)
		if !slices.Contains(execution.States, st) {
			names := make([]string, len(execution.States))
			for i, x := range execution.States {
				names[i] = string(x)
			}
			bad.add("state", "expected one of %s", strings.Join(names, ", "))
			break
		}
		if !slices.Contains(q.States, st) {
			q.States = append(q.States, st)
		}
	}
	q.From, q.To = bad.time(c, "from"), bad.time(c, "to")
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		bad.add("to", "must be after from")
	}
	if s, ok := c.GetQuery("sort"); ok {
		f := executions.SortField(strings.TrimPrefix(s, "-"))
		if f != executions.SortStart && f != executions.SortCreatedAt {
			bad.add("sort", "expected start, -start, created_at or -created_at")
		}
		q.Sort = []executions.Sort{{Field: f, Desc: strings.HasPrefix(s, "-")}}
	}
	if err := bad.err(); err != nil {
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
	var bad problems
	bad.known(c, bookingParams)
	q := bookingsQuery{page: bad.page(c)}
	s, ok := c.GetQuery("resource")
	peer, id, cut := strings.Cut(s, "/")
	switch {
	case !ok:
		bad.add("resource", "required: the compute or storage as peer/id")
	case !cut || peer == "" || len(peer) > 200 || strings.ContainsAny(peer, " /") || !isID(id):
		bad.add("resource", "expected a resource reference as peer/id (e.g. local/3f1c2a9e-6a43-4d3b-9a55-1a2b3c4d5e6f)")
	}
	q.ref = resource.Ref{Peer: peer, ID: id}
	q.from, q.to = bad.time(c, "from"), bad.time(c, "to")
	if !q.from.IsZero() && !q.to.IsZero() && !q.to.After(q.from) {
		bad.add("to", "must be after from")
	}
	if err := bad.err(); err != nil {
		return bookingsQuery{}, err
	}
	return q, nil
}
