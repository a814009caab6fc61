package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/server"
)

// Key rotation bounds.
const (
	DefaultRetireIn = 7 * 24 * time.Hour
	MaxRetireIn     = 90 * 24 * time.Hour
)

// RotateRequest is the body of POST /peer/self/rotate.
type RotateRequest struct {
	// RetireIn is how long the current key stays accepted for calls and
	// endorsements after the rotation, as a Go duration ("168h"); 0s to
	// 2160h, default 168h. Partners pick the new key up with their next
	// heartbeat; calls they signed meanwhile remain valid.
	RetireIn string `json:"retire_in,omitempty" example:"168h"`
}

// RotateResponse answers a rotation.
type RotateResponse struct {
	// KeyID and Fingerprint are the new current key's.
	KeyID       string `json:"key_id"`
	Fingerprint string `json:"fingerprint"`
	// RetiredKeyID is the key retired, accepted until RetiredUntil.
	RetiredKeyID string    `json:"retired_key_id"`
	RetiredUntil time.Time `json:"retired_until"`
}

// Rotation rotates this peer's key.
type Rotation struct {
	self   *Self
	rotate func(doc *peerid.SelfDoc, current *peerid.PrivateKey, retireAt time.Time) (*peerid.PrivateKey, error)
}

// NewRotation returns the handler; rotate makes and stores the next key.
func NewRotation(self *Self, rotate func(doc *peerid.SelfDoc, current *peerid.PrivateKey, retireAt time.Time) (*peerid.PrivateKey, error)) *Rotation {
	return &Rotation{self: self, rotate: rotate}
}

// Post godoc
//
//	@Summary		Rotate this peer's key
//	@Description	Makes a new key pair, stored sealed, and makes it current: the self document lists it endorsed by the key before it (so a peer that pinned the old key accepts the new one) and is signed with it. The peer id does not change. The old key stays accepted until retire_in from now, so calls signed just before still verify; partners pick the new key up from GET /peer/self with their next heartbeat. Administrators only.
//	@Tags			peer
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			request	body		RotateRequest	false	"When the old key retires"
//	@Success		200		{object}	RotateResponse
//	@Failure		400		{object}	apierror.Envelope	"A bad retire_in"
//	@Failure		403		{object}	apierror.Envelope	"Not an administrator"
//	@Router			/peer/self/rotate [post]
func (h *Rotation) Post(c *gin.Context) {
	var in RotateRequest
	if c.Request.ContentLength != 0 {
		if err := server.DecodeJSON(c, &in); err != nil {
			server.Fail(c, err)
			return
		}
	}
	retireIn := DefaultRetireIn
	if in.RetireIn != "" {
		d, err := time.ParseDuration(in.RetireIn)
		if err != nil || d < 0 || d > MaxRetireIn {
			server.Fail(c, apierror.Invalid(apierror.FieldError{Field: "retire_in", Problem: "expected a duration from 0s to 2160h, such as 168h"}))
			return
		}
		retireIn = d
	}
	old := h.self.Key()
	retireAt := time.Now().Add(retireIn).Truncate(time.Second).Add(time.Second)
	err := h.self.Rotate(func(doc *peerid.SelfDoc, current *peerid.PrivateKey) (*peerid.PrivateKey, error) {
		return h.rotate(doc, current, retireAt)
	})
	if err != nil {
		server.Fail(c, err)
		return
	}
	k := h.self.Key()
	c.JSON(http.StatusOK, RotateResponse{KeyID: k.KeyID(), Fingerprint: k.Fingerprint(), RetiredKeyID: old.KeyID(), RetiredUntil: retireAt.UTC()})
}
