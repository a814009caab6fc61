package httpapi

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/server"
)

// MaxSignPayloads bounds one signing request.
const MaxSignPayloads = 1000

// SignRequest is the body of POST /peer/sign.
type SignRequest struct {
	// Purpose is what the payloads are (area-op: ops of collaborative
	// areas).
	Purpose string `json:"purpose" enums:"area-op"`
	// Payloads are the bytes to sign (base64 in JSON).
	Payloads [][]byte `json:"payloads" swaggertype:"array,string" format:"base64"`
}

// SignResponse holds the signatures, in the order of the payloads, of
// "opencloud/<purpose>\n" followed by each payload.
type SignResponse struct {
	KeyID      string   `json:"key_id"`
	Signatures [][]byte `json:"signatures" swaggertype:"array,string" format:"base64"`
}

// Signing signs this peer's own documents for its services.
type Signing struct{ key func() *peerid.PrivateKey }

// NewSigning signs with the current key.
func NewSigning(key func() *peerid.PrivateKey) *Signing { return &Signing{key: key} }

// Post godoc
//
//	@Summary		Sign documents of this peer (services only)
//	@Description	Signs payloads of a known purpose with this peer's key, for this peer's services (the services' own client; users are refused): oc-workspace signs the ops of collaborative areas it shares with other peers. What is signed is "opencloud/<purpose>\n" followed by the payload, so a signature made here is never valid as a signed call or a self document.
//	@Tags			federation
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			request	body		SignRequest	true	"What to sign"
//	@Success		200		{object}	SignResponse
//	@Failure		400		{object}	apierror.Envelope	"An unknown purpose, or too many payloads"
//	@Failure		403		{object}	apierror.Envelope	"Not the services' client"
//	@Router			/peer/sign [post]
func (h *Signing) Post(c *gin.Context) {
	p, _ := authn.FromContext(c.Request.Context())
	// The services' client: a client (no user) with the admin role.
	if p.IsRemote() || p.Username != "" || p.Subject == "" || !p.IsAdmin() {
		server.Fail(c, apierror.Forbidden("only this peer's services sign with its key"))
		return
	}
	var in SignRequest
	if err := server.DecodeJSON(c, &in); err != nil {
		server.Fail(c, err)
		return
	}
	if !slices.Contains(federation.SignPurposes, in.Purpose) {
		server.Fail(c, apierror.Invalid(apierror.FieldError{Field: "purpose", Problem: "expected area-op"}))
		return
	}
	if len(in.Payloads) == 0 || len(in.Payloads) > MaxSignPayloads {
		server.Fail(c, apierror.Invalid(apierror.FieldError{Field: "payloads", Problem: "1 to 1000 payloads"}))
		return
	}
	key := h.key()
	out := SignResponse{KeyID: key.KeyID(), Signatures: make([][]byte, len(in.Payloads))}
	for i, b := range in.Payloads {
		out.Signatures[i] = key.Sign(federation.SigningMessage(in.Purpose, b))
	}
	c.JSON(http.StatusOK, out)
}
