package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/peercall"
	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/server"

	"github.com/opencloud/opencloud/services/oc-peer/internal/registry"
)

// Relay signs calls of this peer's users and services to other peers:
// oc-peer alone holds the peer's private key, the other services go
// through it.
type Relay struct {
	reg    *registry.Registry
	signer func() *peercall.Signer
	client *http.Client
}

// NewRelay returns the relay signing with the current signer.
func NewRelay(reg *registry.Registry, signer func() *peercall.Signer) *Relay {
	// No client timeout: each call has its own deadline.
	return &Relay{reg: reg, signer: signer, client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// Relay limits.
const (
	MaxRelayBody        = 8 << 20
	MaxRelayResponse    = 32 << 20
	DefaultRelayTimeout = 15 * time.Second
)

var forwardedRequest = []string{"Content-Type", "Accept", "If-Match", "If-None-Match", "Idempotency-Key"}
var forwardedResponse = []string{"Content-Type", "ETag", "Location", "Retry-After", "WWW-Authenticate"}

// Handle godoc
//
//	@Summary		Call another peer
//	@Description	Sends the request (method, path after /peer/relay/{peer}, query and body) to the peer, signed by this peer, and answers the peer's response. A user's call carries the user's identity (subject and groups): the other peer applies its rules to that user of this peer. A call of the services' own client carries none. The peer must be known and not blocked. X-OC-Timeout-Ms bounds the call (1 to 60000, default 15000): past it the answer is 504 peer_timeout; an unreachable peer is 502 peer_unreachable. X-OC-Peer in the answer names the peer that answered.
//	@Tags			federation
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			peer			path		string	true	"Peer id"
//	@Param			path			path		string	true	"The path on the peer, such as /catalog/resources"
//	@Param			X-OC-Timeout-Ms	header		int		false	"Deadline of the call in milliseconds"
//	@Success		200				{object}	object	"The peer's answer, whatever its status"
//	@Failure		400				{object}	apierror.Envelope	"A bad timeout"
//	@Failure		404				{object}	apierror.Envelope	"Unknown peer"
//	@Failure		409				{object}	apierror.Envelope	"The peer is blocked"
//	@Failure		502				{object}	apierror.Envelope	"The peer could not be reached"
//	@Failure		504				{object}	apierror.Envelope	"The peer did not answer in time"
//	@Router			/peer/relay/{peer}/{path} [get]
//	@Router			/peer/relay/{peer}/{path} [post]
func (h *Relay) Handle(c *gin.Context) {
	p, err := h.reg.Get(c.Request.Context(), c.Param("peer"))
	if err != nil {
		fail(c, err)
		return
	}
	if p.Relation == federation.Blocked {
		server.Fail(c, apierror.Conflict("peer_blocked", "peer "+p.ID+" is blocked", nil))
		return
	}
	timeout := DefaultRelayTimeout
	if s := c.GetHeader("X-OC-Timeout-Ms"); s != "" {
		ms, err := strconv.Atoi(s)
		if err != nil || ms < 1 || ms > 60000 {
			server.Fail(c, apierror.BadRequest("invalid_request", "X-OC-Timeout-Ms: expected 1 to 60000 milliseconds"))
			return
		}
		timeout = time.Duration(ms) * time.Millisecond
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, MaxRelayBody+1))
	if err != nil || len(body) > MaxRelayBody {
		server.Fail(c, apierror.New(http.StatusRequestEntityTooLarge, "body_too_large", "at most 8 MiB are relayed", nil))
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), timeout)
	defer cancel()
	if who, ok := authn.FromContext(ctx); ok && who.Username != "" {
		ctx = peercall.OnBehalfOf(ctx, peercall.User{Subject: who.Subject, Groups: who.Groups})
	}
	target := p.URL + c.Param("path")
	if q := c.Request.URL.RawQuery; q != "" {
		target += "?" + q
	}
	req, err := http.NewRequestWithContext(ctx, c.Request.Method, target, nil)
	if err != nil {
		server.Fail(c, apierror.BadRequest("invalid_request", "the path cannot be relayed: "+err.Error()))
		return
	}
	for _, k := range forwardedRequest {
		if v := c.GetHeader(k); v != "" {
			req.Header.Set(k, v)
		}
	}
	if err := h.signer().Sign(req, peerid.ID(p.ID), body); err != nil {
		server.Fail(c, err)
		return
	}
	resp, err := h.client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			server.Fail(c, apierror.New(http.StatusGatewayTimeout, "peer_timeout", "peer "+p.ID+" did not answer within "+timeout.String(), nil))
			return
		}
		server.Fail(c, apierror.New(http.StatusBadGateway, "peer_unreachable", "peer "+p.ID+" could not be reached: "+err.Error(), nil))
		return
	}
	defer resp.Body.Close()
	for _, k := range forwardedResponse {
		if v := resp.Header.Get(k); v != "" {
			c.Header(k, v)
		}
	}
	c.Header("X-OC-Peer", p.ID)
	c.Status(resp.StatusCode)
	if _, err := io.Copy(c.Writer, io.LimitReader(resp.Body, MaxRelayResponse)); err != nil {
		server.LoggerFrom(c).Info("relay: the answer was cut", "peer", p.ID, "err", err)
	}
}
