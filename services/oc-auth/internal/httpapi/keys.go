package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/services/oc-auth/api"
)

// listKeys godoc
//
//	@Summary	List signing keys
//	@Description	Newest first, without key material. The active key signs; a retired key stays in the JWKS until published_until, so tokens it signed keep verifying.
//	@Tags		keys
//	@Produce	json
//	@Security	BearerAuth
//	@Success	200	{object}	api.List[api.Key]
//	@Failure	401	{object}	apierror.Envelope
//	@Failure	403	{object}	apierror.Envelope
//	@Router		/admin/keys [get]
func (a *API) listKeys(c *gin.Context) {
	ks, err := a.Keys.List(c.Request.Context())
	if err != nil {
		fail(c, err)
		return
	}
	out := api.List[api.Key]{Items: make([]api.Key, 0, len(ks)), Total: int64(len(ks)), Limit: len(ks)}
	for _, k := range ks {
		out.Items = append(out.Items, keyOut(k))
	}
	c.JSON(http.StatusOK, out)
}

// rotateKey godoc
//
//	@Summary	Rotate the signing key
//	@Description	Creates a new key that signs every token from now on. The previous keys stay published for the retention period (OC_AUTH_KEY_RETENTION), so tokens already issued stay valid.
//	@Tags		keys
//	@Produce	json
//	@Security	BearerAuth
//	@Success	201	{object}	api.Key
//	@Failure	401	{object}	apierror.Envelope
//	@Failure	403	{object}	apierror.Envelope
//	@Router		/admin/keys/rotate [post]
func (a *API) rotateKey(c *gin.Context) {
	in, err := a.Keys.Rotate(c.Request.Context())
	if err != nil {
		fail(c, err)
		return
	}
	p := principal(c)
	a.Log.InfoContext(c.Request.Context(), "signing key rotated", "kid", in.KID, "by", p.Subject)
	c.JSON(http.StatusCreated, keyOut(in))
}
