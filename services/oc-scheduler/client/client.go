// Package client is the typed Go client of the oc-scheduler API, for other
// services, tools and end-to-end tests. Failures the API answers are
// *apierror.Error values carrying the HTTP status; a booking conflict's
// plan is read with ConflictPlan.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
)

// Prefix is where oc-scheduler is served.
const Prefix = "/scheduler"

// TokenSource returns the bearer token of the next call.
type TokenSource = apiclient.TokenSource

// StaticToken always returns tok.
func StaticToken(tok string) TokenSource { return apiclient.StaticToken(tok) }

// Client calls one oc-scheduler.
type Client struct{ c *apiclient.Client }

// New returns a client of the service at baseURL (the gateway or the
// service, without the /scheduler prefix); hc nil uses a default client.
func New(baseURL string, tokens TokenSource, hc *http.Client) *Client {
	return &Client{c: apiclient.New(baseURL, tokens, hc)}
}

// Ready returns nil when the service and its dependencies are ready.
func (c *Client) Ready(ctx context.Context) error { return c.c.Ready(ctx, Prefix) }

// Book books executions of a workflow. A conflict is a 409 *apierror.Error
// whose plan ConflictPlan returns.
func (c *Client) Book(ctx context.Context, workflowID string, r execution.Request) (execution.Plan, error) {
	return c.BookOnce(ctx, workflowID, r, "")
}

// BookOnce is Book with an Idempotency-Key: sent again with the same key,
// it books nothing new and returns the first answer.
func (c *Client) BookOnce(ctx context.Context, workflowID string, r execution.Request, key string) (execution.Plan, error) {
	var p execution.Plan
	h := map[string]string{}
	if key != "" {
		h["Idempotency-Key"] = key
	}
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: Prefix + "/" + url.PathEscape(workflowID), Body: r, Header: h}, &p)
	return p, err
}

// Check answers what Book would book now, booking nothing.
func (c *Client) Check(ctx context.Context, workflowID string, r execution.Request) (execution.Plan, error) {
	var p execution.Plan
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: Prefix + "/" + url.PathEscape(workflowID) + "/check", Body: r}, &p)
	return p, err
}

// ConflictPlan returns the plan of a booking_conflict error (false for any other error).
func ConflictPlan(err error) (execution.Plan, bool) {
	var ae *apierror.Error
	if !errors.As(err, &ae) || ae.Code != "booking_conflict" {
		return execution.Plan{}, false
	}
	raw, err := json.Marshal(ae.Details)
	if err != nil {
		return execution.Plan{}, false
	}
	var p execution.Plan
	if json.Unmarshal(raw, &p) != nil {
		return execution.Plan{}, false
	}
	return p, true
}

// ListOptions are the filters, order and page of a list. Zero values do not filter.
type ListOptions struct {
	WorkflowID string
	States     []execution.State
	From, To   time.Time // window overlaps [From, To)
	RequestID  string
	Sort       string // start, -start, created_at, -created_at
	Limit      int    // 0: the server's default
	Offset     int
}

// List returns one page of the caller's executions (an admin's: everyone's).
func (c *Client) List(ctx context.Context, o ListOptions) (execution.Page, error) {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("workflow", o.WorkflowID)
	for _, s := range o.States {
		v.Add("state", string(s))
	}
	if !o.From.IsZero() {
		v.Set("from", o.From.UTC().Format(time.RFC3339Nano))
	}
	if !o.To.IsZero() {
		v.Set("to", o.To.UTC().Format(time.RFC3339Nano))
	}
	set("request", o.RequestID)
	set("sort", o.Sort)
	if o.Limit != 0 {
		v.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Offset != 0 {
		v.Set("offset", strconv.Itoa(o.Offset))
	}
	var p execution.Page
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: withQuery(Prefix+"/executions", v)}, &p)
	return p, err
}

// Get returns one execution.
func (c *Client) Get(ctx context.Context, id string) (execution.Execution, error) {
	var e execution.Execution
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: path(id)}, &e)
	return e, err
}

// Cancel cancels an execution (see the route's documentation) and returns it.
func (c *Client) Cancel(ctx context.Context, id string) (execution.Execution, error) {
	var e execution.Execution
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: path(id) + "/cancel"}, &e)
	return e, err
}

// BookingPage is one page of the bookings held on a resource.
type BookingPage struct {
	Items  []execution.Booking `json:"items"`
	Total  int64               `json:"total"`
	Limit  int                 `json:"limit"`
	Offset int                 `json:"offset"`
}

// BookingOptions select the bookings of one resource.
type BookingOptions struct {
	Resource resource.Ref
	From, To time.Time
	Limit    int
	Offset   int
}

// Bookings returns the bookings held on a resource.
func (c *Client) Bookings(ctx context.Context, o BookingOptions) (BookingPage, error) {
	v := url.Values{"resource": {o.Resource.String()}}
	if !o.From.IsZero() {
		v.Set("from", o.From.UTC().Format(time.RFC3339Nano))
	}
	if !o.To.IsZero() {
		v.Set("to", o.To.UTC().Format(time.RFC3339Nano))
	}
	if o.Limit != 0 {
		v.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Offset != 0 {
		v.Set("offset", strconv.Itoa(o.Offset))
	}
	var p BookingPage
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: withQuery(Prefix+"/bookings", v)}, &p)
	return p, err
}

// Live follows an execution: the channel receives the current state first,
// then every state change and log line, and is closed when the stream ends
// (a terminal state, ctx done, or the connection lost).
func (c *Client) Live(ctx context.Context, id string) (<-chan execution.Live, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.c.BaseURL+path(id)+"/live", nil)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.c.Token != nil {
		tok, err := c.c.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("client: token: %w", err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	// The stream lasts as long as the execution: no overall timeout.
	hc := &http.Client{Transport: c.c.HTTP.Transport}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: GET live %s: %w", id, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var env apierror.Envelope
		if json.Unmarshal(raw, &env) != nil || env.Error == nil {
			return nil, &apierror.Error{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode), Message: strings.TrimSpace(string(raw))}
		}
		env.Error.Status = resp.StatusCode
		return nil, env.Error
	}
	out := make(chan execution.Live, 16)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		readEvents(ctx, resp.Body, out)
	}()
	return out, nil
}

// readEvents parses Server-Sent Events: "event:" and "data:" lines, a blank
// line ending each event; comment lines (":") are keep-alives.
func readEvents(ctx context.Context, r io.Reader, out chan<- execution.Live) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var name string
	var data bytes.Buffer
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data.Len() > 0 {
				ev := execution.Live{Event: name, Data: json.RawMessage(bytes.Clone(data.Bytes()))}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
			name = ""
			data.Reset()
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
}

func path(id string) string { return Prefix + "/executions/" + url.PathEscape(id) }

func withQuery(p string, v url.Values) string {
	if q := v.Encode(); q != "" {
		return p + "?" + q
	}
	return p
}

// Detail returns one execution with the last lines of its steps' logs.
func (c *Client) Detail(ctx context.Context, id string) (execution.Detail, error) {
	var d execution.Detail
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: path(id)}, &d)
	return d, err
}

// Logs returns one page of a step's log: the lines kept whose Seq is above
// after, at most limit of them (0: the service's default).
func (c *Client) Logs(ctx context.Context, id, step string, after int64, limit int) (execution.LogPage, error) {
	v := url.Values{"step": {step}}
	if after > 0 {
		v.Set("after", strconv.FormatInt(after, 10))
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	var p execution.LogPage
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: withQuery(path(id)+"/logs", v)}, &p)
	return p, err
}
