// Package search answers one query over this peer's catalog and its
// partners' in one call. Each partner is asked live, through oc-peer's
// relay and with the caller's identity, and waited for at most a deadline:
// the answer says, per peer, whether it answered, timed out, is offline or
// refused.
//
// Asking live rather than keeping a replica of the partners' catalogs
// means a partner applies its own visibility rules to every query (a
// resource made private disappears from the next search, with nothing to
// purge), no copy of another organisation's catalog is kept here, and the
// results are always current; the price is that an offline partner's
// resources are not found until it is back, which the answer says.
package search

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"

	"github.com/opencloud/opencloud/services/oc-catalog/internal/catalog"
)

// DefaultDeadline is how long a partner is waited for.
const DefaultDeadline = time.Second

// MaxWindow bounds offset+limit of a search: each peer is asked for that
// many results.
const MaxWindow = 1000

// States of a peer in an answer.
const (
	Answered = resource.PeerAnswered
	Timeout  = resource.PeerTimeout
	Offline  = resource.PeerOffline
	Refused  = resource.PeerRefused
	Failed   = resource.PeerFailed
)

// PeerResult and Result are the answer's types.
type (
	PeerResult = resource.PeerResult
	Result     = resource.SearchResult
)

// Searcher runs searches.
type Searcher struct {
	self     federation.Self
	catalog  *catalog.Service
	peers    store.Collection
	gateway  string
	client   *http.Client
	deadline time.Duration
	now      func() time.Time
}

// New returns a searcher over svc and the partners in st's peers
// collection, calling them through the relay of oc-peer at gateway.
func New(ctx context.Context, self federation.Self, svc *catalog.Service, st store.Store, gateway string, deadline time.Duration) (*Searcher, error) {
	col, err := st.Collection(ctx, federation.Spec)
	if err != nil {
		return nil, err
	}
	if deadline <= 0 {
		deadline = DefaultDeadline
	}
	return &Searcher{self: self, catalog: svc, peers: col, gateway: strings.TrimRight(gateway, "/"),
		client: &http.Client{}, deadline: deadline, now: time.Now}, nil
}

// Query is a search: a catalog query, the peers to ask (none: this peer
// and every partner) and the caller's token for the relay.
type Query struct {
	catalog.Query
	Peers []string
	// RawQuery is the list query string sent to partners (without limit,
	// offset and peer).
	RawQuery url.Values
}

// partners returns the partners to ask.
func (s *Searcher) partners(ctx context.Context, only []string) ([]federation.Peer, error) {
	if s.gateway == "" {
		return nil, nil
	}
	recs, _, err := s.peers.Find(ctx, store.Query{Filter: store.Eq("relation", string(federation.Partner)), Limit: 1000})
	if err != nil {
		return nil, err
	}
	out := make([]federation.Peer, 0, len(recs))
	for _, r := range recs {
		var p federation.Peer
		if err := r.Decode(&p); err != nil {
			return nil, err
		}
		if len(only) == 0 || slices.Contains(only, p.ID) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Search asks this peer and the partners, at once, and merges the answers.
func (s *Searcher) Search(ctx context.Context, p authn.Principal, token string, q Query) (Result, error) {
	want := q.Offset + q.Limit
	if want > MaxWindow {
		return Result{}, apierror.Invalid(apierror.FieldError{Field: "offset",
			Problem: fmt.Sprintf("offset+limit is at most %d in a search across peers", MaxWindow)})
	}
	partners, err := s.partners(ctx, q.Peers)
	if err != nil {
		return Result{}, err
	}
	askSelf := len(q.Peers) == 0 || slices.Contains(q.Peers, s.self.ID)
	for _, id := range q.Peers {
		if id != s.self.ID && !slices.ContainsFunc(partners, func(p federation.Peer) bool { return p.ID == id }) {
			return Result{}, apierror.Invalid(apierror.FieldError{Field: "peer", Problem: fmt.Sprintf("%s is neither this peer nor a partner", id)})
		}
	}
	type answer struct {
		res   PeerResult
		items []resource.Resource
	}
	answers := make([]answer, len(partners)+1)
	var wg sync.WaitGroup
	if askSelf {
		wg.Go(func() {
			start := s.now()
			lq := q.Query
			lq.Offset, lq.Limit = 0, want
			items, total, err := s.catalog.List(ctx, p, lq)
			a := answer{res: PeerResult{Peer: s.self.ID, Name: s.self.Name, Self: true, State: Answered, Total: total}, items: items}
			if err != nil {
				a.res.State, a.res.Error, a.items = Failed, err.Error(), nil
			}
			s.finish(&a.res, start)
			answers[0] = a
		})
	}
	for i, peer := range partners {
		wg.Go(func() {
			start := s.now()
			items, total, state, err := s.ask(ctx, token, peer, q.RawQuery, want)
			a := answer{res: PeerResult{Peer: peer.ID, Name: peer.Name, State: state, Total: total}, items: items}
			if err != nil {
				a.res.Error = err.Error()
			}
			s.finish(&a.res, start)
			answers[i+1] = a
		})
	}
	wg.Wait()

	res := Result{Items: []resource.Resource{}, Limit: q.Limit, Offset: q.Offset, Peers: []PeerResult{}}
	var all []resource.Resource
	for _, a := range answers {
		if a.res.Peer == "" {
			continue
		}
		res.Peers = append(res.Peers, a.res)
		if a.res.State != Answered {
			res.Partial = true
			continue
		}
		res.Total += a.res.Total
		all = append(all, a.items...)
	}
	slices.SortStableFunc(all, order(q.Sort))
	if q.Offset < len(all) {
		res.Items = all[q.Offset:min(len(all), want)]
	}
	return res, nil
}

func (s *Searcher) finish(r *PeerResult, start time.Time) {
	end := s.now()
	r.TookMillis = float64(end.Sub(start).Microseconds()) / 1000
	if r.State == Answered {
		t := end.UTC()
		r.FetchedAt = &t
	}
}

// ask reads the first want results of peer, in pages of at most 200,
// within the deadline.
func (s *Searcher) ask(ctx context.Context, token string, peer federation.Peer, query url.Values, want int) ([]resource.Resource, int64, string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.deadline)
	defer cancel()
	var items []resource.Resource
	var total int64
	for offset := 0; offset < want; {
		n := min(want-offset, 200)
		v := url.Values{}
		for k, vs := range query {
			v[k] = vs
		}
		v.Set("limit", strconv.Itoa(n))
		v.Set("offset", strconv.Itoa(offset))
		page, state, err := s.page(ctx, token, peer, v)
		if err != nil {
			return nil, 0, state, err
		}
		for i := range page.Items {
			// A peer speaks for its own resources only.
			page.Items[i].PeerID = peer.ID
		}
		items, total = append(items, page.Items...), page.Total
		offset += len(page.Items)
		if len(page.Items) < n {
			break
		}
	}
	return items, total, Answered, nil
}

func (s *Searcher) page(ctx context.Context, token string, peer federation.Peer, v url.Values) (resource.Page, string, error) {
	var page resource.Page
	cl := federation.RelayClient(s.gateway, peer.ID, apiclient.StaticToken(token), s.client)
	h, err := cl.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: "/catalog/resources?" + v.Encode(),
		Header: federation.Deadline(ctx)}, &page)
	if err == nil {
		return page, Answered, nil
	}
	switch federation.Classify(ctx, h, err) {
	case federation.Timeout:
		return page, Timeout, fmt.Errorf("no answer within %s", s.deadline)
	case federation.Unreachable:
		return page, Offline, err
	case federation.Refused:
		return page, Refused, err
	}
	return page, Failed, err
}

// order is the order of q's sort keys (name by default), then peer and id.
func order(keys []catalog.Sort) func(a, b resource.Resource) int {
	if len(keys) == 0 {
		keys = []catalog.Sort{{Field: catalog.SortName}}
	}
	return func(a, b resource.Resource) int {
		for _, k := range keys {
			var c int
			switch k.Field {
			case catalog.SortName:
				c = cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
			case catalog.SortKind:
				c = cmp.Compare(a.Kind, b.Kind)
			case catalog.SortCreatedAt:
				c = a.CreatedAt.Compare(b.CreatedAt)
			case catalog.SortUpdatedAt:
				c = a.UpdatedAt.Compare(b.UpdatedAt)
			}
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return cmp.Or(cmp.Compare(a.PeerID, b.PeerID), cmp.Compare(a.ID, b.ID))
	}
}
