package federation

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/store"
)

// Self is this peer's public identity, which oc-peer publishes in the
// store for the other services.
type Self struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url"`
}

// stored is Self as stored: the store owns the "id" field of a record.
type stored struct {
	PeerID string `json:"peer_id"`
	Name   string `json:"name"`
	URL    string `json:"url"`
}

func (s Self) stored() stored { return stored{PeerID: s.ID, Name: s.Name, URL: s.URL} }
func (s stored) self() Self   { return Self{ID: s.PeerID, Name: s.Name, URL: s.URL} }

// SelfSpec is the collection holding Self, in one record.
var SelfSpec = store.Spec{Name: "peer_self"}

const selfRecord = "self"

// PublishSelf stores s for the other services of this peer.
func PublishSelf(ctx context.Context, st store.Store, s Self) error {
	if !peerid.Valid(s.ID) {
		return fmt.Errorf("federation: %q is not a peer id", s.ID)
	}
	col, err := st.Collection(ctx, SelfSpec)
	if err != nil {
		return err
	}
	for {
		var cur stored
		v, err := col.Get(ctx, selfRecord, &cur)
		switch {
		case errors.Is(err, store.ErrNotFound):
			_, err = col.Insert(ctx, selfRecord, s.stored())
		case err == nil && cur.self() == s:
			return nil
		case err == nil:
			_, err = col.Replace(ctx, selfRecord, v, s.stored())
		}
		if errors.Is(err, store.ErrDuplicate) || errors.Is(err, store.ErrVersionConflict) {
			continue // another start wrote it meanwhile
		}
		return err
	}
}

// LoadSelf reads what PublishSelf stored; store.ErrNotFound before oc-peer
// has started once.
func LoadSelf(ctx context.Context, st store.Store) (Self, error) {
	col, err := st.Collection(ctx, SelfSpec)
	if err != nil {
		return Self{}, err
	}
	var s stored
	if _, err := col.Get(ctx, selfRecord, &s); err != nil {
		return Self{}, err
	}
	return s.self(), nil
}

// WaitSelf waits until oc-peer has published this peer's identity, for a
// service started beside it: it polls every poll until ctx ends.
func WaitSelf(ctx context.Context, st store.Store, poll time.Duration, waiting func()) (Self, error) {
	told := false
	for {
		s, err := LoadSelf(ctx, st)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return Self{}, fmt.Errorf("read this peer's identity: %w", err)
		}
		if !told && waiting != nil {
			waiting()
			told = true
		}
		select {
		case <-ctx.Done():
			return Self{}, fmt.Errorf("this peer's identity: oc-peer has not made it yet: %w", ctx.Err())
		case <-time.After(poll):
		}
	}
}

// Origin returns the scheme and host of a public URL, or "" when it has a
// path (signed calls then count the URL as received only).
func Origin(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// SignPurposes are the purposes oc-peer signs payloads for (POST
// /peer/sign): each names a kind of document of the peer's own.
var SignPurposes = []string{"area-op"}

// SigningMessage is what a peer key signs for payload of purpose: the
// purpose is bound in, so that a signature made for one purpose never
// passes for another, nor for a signed call or a self document.
func SigningMessage(purpose string, payload []byte) []byte {
	return append([]byte("opencloud/"+purpose+"\n"), payload...)
}
