package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/peercall"
	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/libs/store"

	"github.com/opencloud/opencloud/services/oc-peer/internal/registry"
)

// Partnership receives other peers' partnership messages. A peer this one
// does not know yet is verified against the self document in the message,
// whose id is derived from its key; a known peer against its pinned keys,
// or against the message's document when that continues them.
type Partnership struct {
	reg *registry.Registry
	v   *peercall.Verifier
}

type presentedKey struct{}

// presenting resolves keys from the directory, and from the document the
// message presents when the directory does not have them.
type presenting struct{ dir *federation.Directory }

func (p presenting) ResolveKey(ctx context.Context, peer peerid.ID, keyID string) (peerid.Key, error) {
	shown, _ := ctx.Value(presentedKey{}).(*peerid.KeySet)
	rec, pinned, err := p.dir.Get(ctx, peer)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if shown == nil || shown.Peer() != peer {
			return peerid.Key{}, peercall.ErrUnknownPeer
		}
		return shown.Key(keyID)
	case err != nil:
		return peerid.Key{}, err
	case rec.Relation == federation.Blocked:
		return peerid.Key{}, peercall.ErrBlocked
	}
	k, err := pinned.Key(keyID)
	if err == nil || shown == nil || shown.Peer() != peer {
		return k, err
	}
	next, uerr := pinned.Update(shown.Raw())
	if uerr != nil {
		return k, err
	}
	return next.Key(keyID)
}

// NewPartnership verifies messages addressed to self with replay (shared
// with the other routes' verifier).
func NewPartnership(reg *registry.Registry, self, origin string, dir *federation.Directory, replay *peercall.ReplayCache) (*Partnership, error) {
	v, err := peercall.NewVerifier(peercall.Config{Self: peerid.ID(self), Keys: presenting{dir: dir}, Replay: replay, PublicURL: origin})
	if err != nil {
		return nil, err
	}
	return &Partnership{reg: reg, v: v}, nil
}

// Post godoc
//
//	@Summary		Receive a partnership message (peers only)
//	@Description	Another peer's administrator asked for a partnership (request), accepted this peer's request (accept), or removed this peer (end). The call is signed by the sending peer (Authorization: OCPeer); its self document, in the body, pins its key when this peer does not know it yet. A blocked peer is refused with 403.
//	@Tags			federation
//	@Accept			json
//	@Produce		json
//	@Param			Authorization	header		string				true	"OCPeer <signed call>"
//	@Param			message			body		registry.Message	true	"The message"
//	@Success		200				{object}	registry.Answer
//	@Failure		400				{object}	apierror.Envelope	"A malformed message"
//	@Failure		401				{object}	apierror.Envelope	"Unsigned, forged, expired, replayed or wrongly signed"
//	@Failure		403				{object}	apierror.Envelope	"Blocked, or addressed to another peer"
//	@Failure		409				{object}	apierror.Envelope	"The message does not fit the relation (an accept nobody asked for)"
//	@Router			/peer/federation/partnership [post]
func (h *Partnership) Post(c *gin.Context) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, registry.MaxSelfDoc+1024))
	if err != nil {
		server.Fail(c, apierror.BadRequest("invalid_request", "the body could not be read"))
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	var msg registry.Message
	if err := json.Unmarshal(body, &msg); err != nil {
		server.Fail(c, apierror.BadRequest("invalid_request", "the body is not a partnership message: "+err.Error()))
		return
	}
	if msg.Action != "request" && msg.Action != "accept" && msg.Action != "end" {
		server.Fail(c, apierror.BadRequest("invalid_request", "action: expected request, accept or end"))
		return
	}
	shown, err := peerid.NewKeySet(msg.SelfDoc)
	if err != nil {
		server.Fail(c, apierror.BadRequest("invalid_request", "self_doc: "+err.Error()))
		return
	}
	ctx := context.WithValue(c.Request.Context(), presentedKey{}, shown)
	caller, err := h.v.Verify(c.Request.WithContext(ctx))
	if err != nil {
		h.v.WriteRefusal(c.Writer, c.Request, err)
		c.Abort()
		return
	}
	if caller.Peer != shown.Peer() {
		server.Fail(c, apierror.BadRequest("invalid_request", "self_doc is another peer's than the caller's"))
		return
	}
	rel, err := h.reg.Receive(c.Request.Context(), shown, msg.Action)
	if errors.Is(err, registry.ErrBlocked) {
		h.v.WriteRefusal(c.Writer, c.Request, peercall.ErrBlocked)
		c.Abort()
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, registry.Answer{Relation: rel})
}
