// Package httpapi is the HTTP transport of oc-scheduler: gin handlers,
// their Swagger annotations, request decoding and the mapping of domain
// errors to the error envelope.
package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/server"

	"github.com/opencloud/opencloud/services/oc-scheduler/internal/booking"
)

// Handler serves the scheduler API.
type Handler struct {
	svc     *booking.Service
	nc      *nats.Conn
	streams *liveStreams
}

// Register mounts the routes on g (the service's authenticated group);
// idempotent guards the booking route so that a client may retry it with
// the same Idempotency-Key. live tunes the live streams.
func Register(g *gin.RouterGroup, svc *booking.Service, nc *nats.Conn, idempotent gin.HandlerFunc, live LiveOptions) {
	h := &Handler{svc: svc, nc: nc, streams: newLiveStreams(live)}
	g.GET("/executions", h.list)
	g.GET("/executions/:id", h.get)
	g.POST("/executions/:id/cancel", h.cancel)
	g.GET("/executions/:id/live", h.live)
	g.GET("/executions/:id/logs", h.logs)
	g.GET("/bookings", h.bookings)
	g.POST("/:workflow_id", idempotent, h.book)
	g.POST("/:workflow_id/check", h.check)
}

// BookingPage is one page of the bookings held on a resource.
type BookingPage struct {
	Items  []execution.Booking `json:"items"`
	Total  int64               `json:"total"`
	Limit  int                 `json:"limit"`
	Offset int                 `json:"offset"`
}

// book godoc
//
//	@Summary		Book executions of a workflow
//	@Description	Expands the request into execution windows — mode 1 (planned): one per firing of cron (5 fields, or 6 with seconds first, UTC) between start and end, or one at start without cron; mode 0: one, at the first moment from now (or start) when every resource is free — and books every compute and storage of the workflow for each window, all or nothing. A compute's capacity (cpu_cores, memory_bytes, gpus; 0 is unlimited) must hold the requests of the processings placed on it, summed over the executions overlapping; a compute declaring no capacity runs one execution at a time; storages never run out. A partner peer's resource is not checked by this peer: it is booked anyway and named in warnings. Two concurrent requests never obtain the same slot. The workflow and its resources are copied into each execution: later edits do not change a booked run. A request sent again with the same Idempotency-Key (within 24 hours) books nothing new and gets the first answer back.
//	@Tags			bookings
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			workflow_id		path		string				true	"Workflow id (UUID)"
//	@Param			request			body		execution.Request	true	"What to book: a cron and the range of its firings, or a single window"
//	@Param			Idempotency-Key	header		string				false	"Any unique string (a UUID) that makes a retry safe"
//	@Success		201				{object}	execution.Plan		"Booked: the windows and the executions"
//	@Failure		400				{object}	apierror.Envelope	"invalid_request naming every bad field (cron with the parser's message, a cron firing more than 1000 times, start in the past...), or workflow_not_bookable naming the resources the catalog does not give you"
//	@Failure		401				{object}	apierror.Envelope
//	@Failure		404				{object}	apierror.Envelope											"No workflow with this id is visible to you"
//	@Failure		409				{object}	apierror.Envelope{error=apierror.Error{details=execution.Plan}}	"booking_conflict: the plan with every conflict (resource, window, bookings held, what runs out) and next_free, the first start at which the whole plan fits"
//	@Failure		503				{object}	apierror.Envelope											"Too many bookings at once (Retry-After), or oc-workflow / the catalog could not answer"
//	@Router			/{workflow_id} [post]
func (h *Handler) book(c *gin.Context) {
	p, id, r, ok := h.request(c)
	if !ok {
		return
	}
	plan, err := h.svc.Book(c.Request.Context(), p, id, r)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, plan)
}

// check godoc
//
//	@Summary		Check a booking without booking
//	@Description	Answers what POST /scheduler/{workflow_id} would book now: the windows, and when something is not free every conflict and next_free. Books nothing; the answer may be outdated by the time you book.
//	@Tags			bookings
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			workflow_id	path		string				true	"Workflow id (UUID)"
//	@Param			request		body		execution.Request	true	"What would be booked"
//	@Success		200			{object}	execution.Plan
//	@Failure		400			{object}	apierror.Envelope
//	@Failure		401			{object}	apierror.Envelope
//	@Failure		404			{object}	apierror.Envelope
//	@Failure		503			{object}	apierror.Envelope
//	@Router			/{workflow_id}/check [post]
func (h *Handler) check(c *gin.Context) {
	p, id, r, ok := h.request(c)
	if !ok {
		return
	}
	plan, err := h.svc.Check(c.Request.Context(), p, id, r)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, plan)
}

func (h *Handler) request(c *gin.Context) (authn.Principal, string, execution.Request, bool) {
	var r execution.Request
	p, ok := principal(c)
	if !ok {
		return p, "", r, false
	}
	if err := server.DecodeJSON(c, &r); err != nil {
		fail(c, err)
		return p, "", r, false
	}
	id, ok := parseID(c.Param("workflow_id"))
	if !ok {
		fail(c, booking.ErrWorkflowNotFound)
	}
	return p, id, r, ok
}

// list godoc
//
//	@Summary		List executions
//	@Description	Lists, a page at a time, the caller's executions (an admin's: everyone's). Filters combine with AND; unknown parameters are refused.
//	@Tags			executions
//	@Produce		json
//	@Security		BearerAuth
//	@Param			workflow	query		string		false	"Only this workflow's (id)"
//	@Param			state		query		[]string	false	"Only executions in this state (repeatable: any of them)"	collectionFormat(multi)	Enums(scheduled,starting,running,succeeded,failed,cancelled,missed)
//	@Param			from		query		string		false	"Only executions whose window ends after this time (RFC 3339)"
//	@Param			to			query		string		false	"Only executions whose window starts before this time (RFC 3339)"
//	@Param			request		query		string		false	"Only the executions of this booking request (request_id)"
//	@Param			sort		query		string		false	"start, -start, created_at or -created_at"	default(start)
//	@Param			limit		query		int			false	"Page size, 1 to 200"	default(20)	minimum(1)	maximum(200)
//	@Param			offset		query		int			false	"Items to skip"			default(0)	minimum(0)
//	@Success		200			{object}	execution.Page
//	@Failure		400			{object}	apierror.Envelope	"A parameter is invalid; details name it"
//	@Failure		401			{object}	apierror.Envelope
//	@Router			/executions [get]
func (h *Handler) list(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	q, err := parseList(c)
	if err != nil {
		fail(c, err)
		return
	}
	items, total, err := h.svc.List(c.Request.Context(), p, q)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, execution.Page{Items: items, Total: total, Limit: q.Limit, Offset: q.Offset})
}

// get godoc
//
//	@Summary		Get an execution
//	@Description	Returns an execution to its owner or an admin; others are answered 404, like unknown ids. With it, logs: the last 100 lines of each step that wrote some, as its worker kept them while the step ran (a batch every second at most). What is kept of a step's log is its last 1,000 lines, and no more than 256 KiB of their text (a longer line is cut at 16 KiB); GET /scheduler/executions/{id}/logs pages through it.
//	@Tags			executions
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path		string	true	"Execution id (UUID)"
//	@Success		200	{object}	execution.Detail
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		404	{object}	apierror.Envelope
//	@Router			/executions/{id} [get]
func (h *Handler) get(c *gin.Context) {
	p, id, ok := target(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	e, err := h.svc.Get(ctx, p, id)
	if err != nil {
		fail(c, err)
		return
	}
	logs, err := h.svc.StepLogs(ctx, e, execution.DetailLogLines)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, execution.Detail{Execution: e, Logs: logs})
}

// logs godoc
//
//	@Summary		Read a step's log
//	@Description	The lines kept of one step's log, oldest first, a page at a time: those whose seq is above after. What is kept is the step's last 1,000 lines, and no more than 256 KiB of their text; first_seq says where it begins (older lines were dropped), last_seq how many lines the step wrote so far, complete whether its log was read to the end of its container. Lines are kept by the worker while the step runs, a batch every second at most: the live stream (GET …/live) has them as they come. Read the next page with after=next while more is true. Owner or admin only (404 otherwise).
//	@Tags			executions
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id		path		string	true	"Execution id (UUID)"
//	@Param			step	query		string	true	"The step: its processing's node id in the workflow"
//	@Param			after	query		int		false	"Only lines whose seq is above this"	default(0)	minimum(0)
//	@Param			limit	query		int		false	"Page size, 1 to 200"					default(20)	minimum(1)	maximum(200)
//	@Success		200		{object}	execution.LogPage
//	@Failure		400		{object}	apierror.Envelope	"A parameter is invalid (details name it), or the execution has no such step (the message lists its steps)"
//	@Failure		401		{object}	apierror.Envelope
//	@Failure		404		{object}	apierror.Envelope
//	@Router			/executions/{id}/logs [get]
func (h *Handler) logs(c *gin.Context) {
	p, id, ok := target(c)
	if !ok {
		return
	}
	q, err := parseLogs(c)
	if err != nil {
		fail(c, err)
		return
	}
	page, err := h.svc.LogPage(c.Request.Context(), p, id, q.step, q.after, q.limit)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, page)
}

// cancel godoc
//
//	@Summary		Cancel an execution
//	@Description	A scheduled execution is cancelled at once and its bookings released; a starting or running one gets cancel_requested, and the worker following it stops it and writes cancelled. Cancelling a cancelled execution changes nothing (200); one that is over otherwise is a 409 naming its state.
//	@Tags			executions
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path		string	true	"Execution id (UUID)"
//	@Success		200	{object}	execution.Execution
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		404	{object}	apierror.Envelope
//	@Failure		409	{object}	apierror.Envelope	"The execution is over (succeeded, failed or missed)"
//	@Router			/executions/{id}/cancel [post]
func (h *Handler) cancel(c *gin.Context) {
	p, id, ok := target(c)
	if !ok {
		return
	}
	e, err := h.svc.Cancel(c.Request.Context(), p, id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, e)
}

// bookings godoc
//
//	@Summary		Bookings held on a resource
//	@Description	The availability of a compute or storage: the bookings held on it, in start order, a page at a time. Any user who can see the resource in the catalog may ask.
//	@Tags			bookings
//	@Produce		json
//	@Security		BearerAuth
//	@Param			resource	query		string	true	"The resource as peer/id"
//	@Param			from		query		string	false	"Only bookings ending after this time (RFC 3339)"
//	@Param			to			query		string	false	"Only bookings starting before this time (RFC 3339)"
//	@Param			limit		query		int		false	"Page size, 1 to 200"	default(20)	minimum(1)	maximum(200)
//	@Param			offset		query		int		false	"Items to skip"			default(0)	minimum(0)
//	@Success		200			{object}	BookingPage
//	@Failure		400			{object}	apierror.Envelope
//	@Failure		401			{object}	apierror.Envelope
//	@Failure		404			{object}	apierror.Envelope	"No resource with this reference is visible to you"
//	@Failure		503			{object}	apierror.Envelope	"The catalog could not answer"
//	@Router			/bookings [get]
func (h *Handler) bookings(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	q, err := parseBookings(c)
	if err != nil {
		fail(c, err)
		return
	}
	items, total, err := h.svc.Bookings(c.Request.Context(), p, q.ref, q.from, q.to, q.page.Limit, q.page.Offset)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, BookingPage{Items: items, Total: total, Limit: q.page.Limit, Offset: q.page.Offset})
}

func principal(c *gin.Context) (authn.Principal, bool) {
	p, ok := authn.FromContext(c.Request.Context())
	if !ok {
		server.Fail(c, apierror.Unauthorized("send an access token in the Authorization: Bearer header"))
	}
	return p, ok
}

// target reads the caller and the execution id of the path.
func target(c *gin.Context) (authn.Principal, string, bool) {
	p, ok := principal(c)
	if !ok {
		return p, "", false
	}
	id, ok := parseID(c.Param("id"))
	if !ok {
		fail(c, booking.ErrNotFound)
	}
	return p, id, ok
}

// parseID reads an id: a UUID; anything else is an id nothing has.
func parseID(id string) (string, bool) {
	u, err := uuid.Parse(id)
	if err != nil || u.String() != strings.ToLower(id) {
		return "", false
	}
	return u.String(), true
}

// errNoBroker: NATS could not be reached for a live stream.
var errNoBroker = errors.New("scheduler: the event broker is unavailable")

// RetryAfter is the pause a client is told to take when the booking lock is busy.
const RetryAfter = 2 * time.Second

// fail maps domain errors to the error envelope; what is neither a domain
// error nor an *apierror.Error becomes a logged 500.
func fail(c *gin.Context, err error) {
	var ce *booking.ConflictError
	var te *booking.TerminalError
	var ue *booking.UnbookableError
	var se *booking.StepError
	switch {
	case errors.As(err, &se):
		server.Fail(c, apierror.Invalid(apierror.FieldError{Field: "step",
			Problem: fmt.Sprintf("the execution has no step %q: give one of %s", se.Step, strings.Join(se.Steps, ", "))}))
	case errors.As(err, &ce):
		server.Fail(c, apierror.Conflict("booking_conflict", conflictMessage(ce.Plan), ce.Plan))
	case errors.As(err, &te):
		server.Fail(c, apierror.Conflict("execution_over",
			fmt.Sprintf("the execution is %s: only a scheduled, starting or running execution can be cancelled", te.State), nil))
	case errors.As(err, &ue):
		server.Fail(c, apierror.New(http.StatusBadRequest, "workflow_not_bookable",
			ue.Error()[len("booking: "):]+"; fix the workflow (or ask for access) and book again", ue.Missing))
	case errors.Is(err, errNoBroker):
		server.LoggerFrom(c).WarnContext(c.Request.Context(), "live stream unavailable", "err", err)
		server.Fail(c, apierror.New(http.StatusServiceUnavailable, "live_unavailable",
			"the event broker cannot be reached to follow the execution; read it with GET /scheduler/executions/{id} or retry", nil))
	case errors.Is(err, booking.ErrBusy):
		c.Header("Retry-After", fmt.Sprint(int(RetryAfter/time.Second)))
		server.Fail(c, apierror.New(http.StatusServiceUnavailable, "busy",
			"too many bookings are being made at once; retry in a moment", nil))
	case errors.Is(err, booking.ErrUnavailable):
		server.LoggerFrom(c).WarnContext(c.Request.Context(), "dependency unavailable", "err", err)
		server.Fail(c, apierror.New(http.StatusServiceUnavailable, "dependency_unavailable",
			"a service this request needs (oc-workflow or the catalog) could not answer; retry in a moment", nil))
	case errors.Is(err, booking.ErrWorkflowNotFound):
		server.Fail(c, apierror.NotFound("no workflow with this id is visible to you"))
	case errors.Is(err, booking.ErrNotFound):
		server.Fail(c, apierror.NotFound("no execution with this id is visible to you"))
	case errors.Is(err, booking.ErrResourceNotFound):
		server.Fail(c, apierror.NotFound(strings.TrimPrefix(err.Error(), "booking: ")))
	default:
		server.Fail(c, err)
	}
}

func conflictMessage(p execution.Plan) string {
	n := len(p.Conflicts)
	if n == 0 {
		return "the resources are not free"
	}
	first := p.Conflicts[0]
	msg := fmt.Sprintf("%d window(s) cannot be booked (all in details); the first: %s from %s to %s: %s", n,
		first.Resource, first.Start.Format(time.RFC3339), first.End.Format(time.RFC3339), first.Problem)
	if p.NextFree != nil {
		msg += "; the whole plan fits from " + p.NextFree.Format(time.RFC3339)
	}
	return msg
}
