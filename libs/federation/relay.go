package federation

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/apierror"
)

// RelayClient returns a client of another peer's API through the relay of
// this peer's oc-peer at gateway: a request's path is the path on that
// peer, and the call is signed by this peer for token's holder.
func RelayClient(gateway, peer string, token apiclient.TokenSource, hc *http.Client) *apiclient.Client {
	return apiclient.New(strings.TrimRight(gateway, "/")+RelayPrefix+url.PathEscape(peer), token, hc)
}

// Deadline returns the header that passes ctx's deadline to the relay
// (none when ctx has none).
func Deadline(ctx context.Context) map[string]string {
	if _, ok := ctx.Deadline(); !ok {
		return nil
	}
	return map[string]string{TimeoutHeader: remainingMillis(ctx)}
}

// Outcome is how a relayed call failed, as a search or a lookup reports it.
type Outcome string

// Outcomes of a failed relayed call.
const (
	// Timeout: no answer within the deadline.
	Timeout Outcome = "timeout"
	// Unreachable: the relay could not reach the peer.
	Unreachable Outcome = "offline"
	// Refused: the peer answered 401 or 403.
	Refused Outcome = "refused"
	// NotKnown: this peer does not know that peer.
	NotKnown Outcome = "unknown"
	// BlockedPeer: this peer blocks that peer.
	BlockedPeer Outcome = "blocked"
	// PeerNotFound: the peer answered 404.
	PeerNotFound Outcome = "not_found"
	// Failed: anything else.
	Failed Outcome = "error"
)

// Classify says how a relayed call that returned h and err (from
// apiclient.Client.Do) failed. The relay's own answers (without
// PeerHeader) tell about this peer's view of the other; the other peer's
// answers about its view of this one.
func Classify(ctx context.Context, h http.Header, err error) Outcome {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return Timeout
	}
	var ae *apierror.Error
	if !errors.As(err, &ae) {
		return Failed
	}
	if h.Get(PeerHeader) == "" {
		switch {
		case ae.Status == http.StatusNotFound:
			return NotKnown
		case ae.Code == "peer_blocked":
			return BlockedPeer
		case ae.Code == "peer_unreachable":
			return Unreachable
		case ae.Code == "peer_timeout":
			return Timeout
		}
		return Failed
	}
	switch ae.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return Refused
	case http.StatusNotFound:
		return PeerNotFound
	}
	return Failed
}

// remainingMillis is what is left of ctx's deadline, as the relay takes it.
func remainingMillis(ctx context.Context) string {
	dl, _ := ctx.Deadline()
	return strconv.FormatInt(min(max(time.Until(dl).Milliseconds(), 1), 60000), 10)
}
