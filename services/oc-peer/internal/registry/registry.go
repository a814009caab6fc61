// Package registry keeps the peers this peer knows: adding one by URL and
// pinning its key, the partnership both administrators must accept,
// blocking, peer groups, and the heartbeats that keep each peer's health.
package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/peercall"
	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/store"
)

// Errors.
var (
	ErrNotFound   = errors.New("this peer does not know that peer")
	ErrInvalid    = errors.New("invalid input")
	ErrConflict   = errors.New("conflict")
	ErrUnreadable = errors.New("the peer's self document could not be read")
	ErrBlocked    = errors.New("the peer is blocked")
	ErrVersion    = errors.New("version conflict")
)

// Limits.
const (
	MaxSelfDoc   = 64 << 10
	MaxGroups    = 32
	FetchTimeout = 10 * time.Second
)

// Publisher publishes events (libs/broker).
type Publisher interface {
	Publish(ctx context.Context, typ, subject, actor string, data any) error
}

// Registry is the peers this peer knows.
type Registry struct {
	self   federation.Self
	dir    *federation.Directory
	col    store.Collection
	health store.Collection
	signer func() *peercall.Signer
	doc    func() ([]byte, error) // this peer's signed self document
	client *http.Client
	events Publisher
	log    *slog.Logger
	now    func() time.Time
}

// Config builds a Registry.
type Config struct {
	Self      federation.Self
	Directory *federation.Directory
	Store     store.Store
	Signer    func() *peercall.Signer
	SelfDoc   func() ([]byte, error)
	// Client calls other peers (nil: a client with FetchTimeout).
	Client *http.Client
	Events Publisher
	Logger *slog.Logger
	Now    func() time.Time
}

// HealthSpec keeps each peer's heartbeat results apart from its record,
// so that heartbeats never bump the version an administrator edits.
var HealthSpec = store.Spec{Name: "peer_health"}

// New opens the registry.
func New(ctx context.Context, c Config) (*Registry, error) {
	health, err := c.Store.Collection(ctx, HealthSpec)
	if err != nil {
		return nil, err
	}
	r := &Registry{self: c.Self, dir: c.Directory, col: c.Directory.Collection(), health: health, signer: c.Signer,
		doc: c.SelfDoc, client: c.Client, events: c.Events, log: c.Logger, now: c.Now}
	if r.client == nil {
		r.client = &http.Client{Timeout: FetchTimeout}
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// CheckURL validates a peer's base URL: http or https, a host, no query,
// fragment or user information. It returns it without a trailing slash.
func CheckURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: url %q: give the peer's base URL, like https://opencloud.lab-b.example.org", ErrInvalid, raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w: url %q: no user, query or fragment", ErrInvalid, raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// fetchSelf reads and verifies base/peer/self.
func (r *Registry) fetchSelf(ctx context.Context, base string) (*peerid.KeySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/peer/self", nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w from %s: %v", ErrUnreadable, base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxSelfDoc+1))
	if err != nil {
		return nil, fmt.Errorf("%w from %s: %v", ErrUnreadable, base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s/peer/self answered %s", ErrUnreadable, base, resp.Status)
	}
	if len(body) > MaxSelfDoc {
		return nil, fmt.Errorf("%w: %s/peer/self is larger than %d bytes", ErrUnreadable, base, MaxSelfDoc)
	}
	ks, err := peerid.NewKeySet(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s/peer/self: %v", ErrUnreadable, base, err)
	}
	return ks, nil
}

// Add fetches the self document at base, checks it and pins the peer's
// key. A peer already known keeps its relation; its URL becomes base and
// its pinned document is updated when the new one continues it.
func (r *Registry) Add(ctx context.Context, actor, base string, groups []string) (federation.Peer, bool, error) {
	base, err := CheckURL(base)
	if err != nil {
		return federation.Peer{}, false, err
	}
	if groups, err = checkGroups(groups); err != nil {
		return federation.Peer{}, false, err
	}
	ks, err := r.fetchSelf(ctx, base)
	if err != nil {
		return federation.Peer{}, false, err
	}
	if string(ks.Peer()) == r.self.ID {
		return federation.Peer{}, false, fmt.Errorf("%w: %s is this peer's own URL", ErrInvalid, base)
	}
	for {
		cur, err := r.Get(ctx, string(ks.Peer()))
		if errors.Is(err, ErrNotFound) {
			now := r.now().UTC()
			p := fromKeySet(ks)
			p.URL, p.Relation, p.Groups, p.AddedAt, p.UpdatedAt = base, federation.Known, nonNil(groups), now, now
			v, err := r.col.Insert(ctx, p.ID, p)
			if errors.Is(err, store.ErrDuplicate) {
				continue
			}
			if err != nil {
				return federation.Peer{}, false, err
			}
			p.Version = v
			p.Status = federation.Status{Health: federation.Unknown}
			r.dir.Forget(p.ID)
			r.changed(ctx, actor, p)
			return p, true, nil
		}
		if err != nil {
			return federation.Peer{}, false, err
		}
		next := cur
		if err := repin(&next, ks); err != nil {
			return federation.Peer{}, false, err
		}
		next.URL = base
		if groups != nil {
			next.Groups = groups
		}
		p, err := r.replace(ctx, actor, cur, next)
		if errors.Is(err, ErrVersion) {
			continue
		}
		return p, false, err
	}
}

func fromKeySet(ks *peerid.KeySet) federation.Peer {
	d := ks.Doc()
	return federation.Peer{ID: string(d.ID), Name: d.Name, Fingerprint: ks.Fingerprint(), Offers: nonNil(d.Offers),
		SelfDoc: ks.Raw(), Groups: []string{}}
}

// repin updates p's pinned document with ks when ks continues it.
func repin(p *federation.Peer, ks *peerid.KeySet) error {
	pinned, err := peerid.NewKeySet(p.SelfDoc)
	if err != nil {
		return fmt.Errorf("the pinned document of %s: %w", p.ID, err)
	}
	next, err := pinned.Update(ks.Raw())
	if errors.Is(err, peerid.ErrStaleDoc) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: the self document of %s does not continue the pinned one: %v", ErrConflict, p.ID, err)
	}
	d := next.Doc()
	p.SelfDoc, p.Fingerprint, p.Name, p.Offers = next.Raw(), next.Fingerprint(), d.Name, nonNil(d.Offers)
	return nil
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return slices.Clone(xs)
}

func checkGroups(groups []string) ([]string, error) {
	if groups == nil {
		return nil, nil
	}
	if len(groups) > MaxGroups {
		return nil, fmt.Errorf("%w: groups: at most %d (got %d)", ErrInvalid, MaxGroups, len(groups))
	}
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		if !validGroup(g) {
			return nil, fmt.Errorf("%w: groups: %q is not a group name (1-64 characters of a-z 0-9 - _ .)", ErrInvalid, g)
		}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out, nil
}

func validGroup(g string) bool {
	if g == "" || len(g) > 64 {
		return false
	}
	for _, c := range g {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Get returns the peer with id.
func (r *Registry) Get(ctx context.Context, id string) (federation.Peer, error) {
	var p federation.Peer
	v, err := r.col.Get(ctx, id, &p)
	if errors.Is(err, store.ErrNotFound) {
		return p, fmt.Errorf("peer %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return p, err
	}
	p.Version = v
	r.withHealth(ctx, &p)
	return p, nil
}

func (r *Registry) withHealth(ctx context.Context, p *federation.Peer) {
	var s federation.Status
	if _, err := r.health.Get(ctx, p.ID, &s); err == nil {
		p.Status = s
	} else {
		p.Status = federation.Status{Health: federation.Unknown}
	}
}

// Query selects peers.
type Query struct {
	Relation federation.Relation
	Group    string
	Text     string
	Limit    int
	Offset   int
}

// List returns the page of peers matching q and their total.
func (r *Registry) List(ctx context.Context, q Query) ([]federation.Peer, int64, error) {
	var fs []store.Filter
	if q.Relation != "" {
		fs = append(fs, store.Eq("relation", string(q.Relation)))
	}
	if q.Group != "" {
		fs = append(fs, store.Eq("groups", q.Group))
	}
	if q.Text != "" {
		fs = append(fs, store.Text(q.Text))
	}
	var f store.Filter
	if len(fs) > 0 {
		f = store.And(fs...)
	}
	recs, total, err := r.col.Find(ctx, store.Query{Filter: f, Sort: []store.Sort{{Field: "name"}}, Limit: q.Limit, Offset: q.Offset})
	if err != nil {
		return nil, 0, err
	}
	out := make([]federation.Peer, 0, len(recs))
	for _, rec := range recs {
		var p federation.Peer
		if err := rec.Decode(&p); err != nil {
			return nil, 0, err
		}
		p.Version = rec.Version
		r.withHealth(ctx, &p)
		out = append(out, p)
	}
	return out, total, nil
}

// replace writes next over cur (whose version it checks), publishes the
// change and drops the directory's cached copy.
func (r *Registry) replace(ctx context.Context, actor string, cur, next federation.Peer) (federation.Peer, error) {
	next.UpdatedAt = r.now().UTC()
	next.Status = federation.Status{}
	v, err := r.col.Replace(ctx, cur.ID, cur.Version, next)
	if errors.Is(err, store.ErrVersionConflict) {
		return cur, fmt.Errorf("peer %s: %w", cur.ID, ErrVersion)
	}
	if errors.Is(err, store.ErrNotFound) {
		return cur, fmt.Errorf("peer %s: %w", cur.ID, ErrNotFound)
	}
	if err != nil {
		return cur, err
	}
	next.Version = v
	next.Status = cur.Status
	r.dir.Forget(next.ID)
	r.changed(ctx, actor, next)
	return next, nil
}

func (r *Registry) changed(ctx context.Context, actor string, p federation.Peer) {
	if r.events == nil {
		return
	}
	p.SelfDoc = nil
	if err := r.events.Publish(ctx, "peer.changed", event.PeerChanged, actor, p); err != nil {
		r.log.WarnContext(ctx, "publish peer change", "peer", p.ID, "err", err)
	}
}

// Patch is a change an administrator makes to a peer.
type Patch struct {
	URL    *string
	Groups *[]string
}

// Update applies patch to peer id at version ifMatch (0: any).
func (r *Registry) Update(ctx context.Context, actor, id string, patch Patch, ifMatch int64) (federation.Peer, error) {
	next := Patch{}
	if patch.URL != nil {
		u, err := CheckURL(*patch.URL)
		if err != nil {
			return federation.Peer{}, err
		}
		next.URL = &u
	}
	if patch.Groups != nil {
		g, err := checkGroups(*patch.Groups)
		if err != nil {
			return federation.Peer{}, err
		}
		g = nonNil(g)
		next.Groups = &g
	}
	return r.modify(ctx, actor, id, ifMatch, func(p *federation.Peer) error {
		if next.URL != nil {
			p.URL = *next.URL
		}
		if next.Groups != nil {
			p.Groups = *next.Groups
		}
		return nil
	})
}

// modify reads peer id, applies fn and writes it back, again on a
// concurrent change unless ifMatch pins the version.
func (r *Registry) modify(ctx context.Context, actor, id string, ifMatch int64, fn func(*federation.Peer) error) (federation.Peer, error) {
	for {
		cur, err := r.Get(ctx, id)
		if err != nil {
			return cur, err
		}
		if ifMatch != 0 && cur.Version != ifMatch {
			return cur, fmt.Errorf("peer %s is at version %d, not %d: %w", id, cur.Version, ifMatch, ErrVersion)
		}
		next := cur
		next.Groups = slices.Clone(cur.Groups)
		if err := fn(&next); err != nil {
			return cur, err
		}
		p, err := r.replace(ctx, actor, cur, next)
		if errors.Is(err, ErrVersion) && ifMatch == 0 {
			continue
		}
		return p, err
	}
}

// Block refuses every call of peer id from now on.
func (r *Registry) Block(ctx context.Context, actor, id string) (federation.Peer, error) {
	return r.modify(ctx, actor, id, 0, func(p *federation.Peer) error {
		p.Relation, p.Pending = federation.Blocked, ""
		return nil
	})
}

// Unblock makes a blocked peer known again; a partnership must be asked
// for anew.
func (r *Registry) Unblock(ctx context.Context, actor, id string) (federation.Peer, error) {
	return r.modify(ctx, actor, id, 0, func(p *federation.Peer) error {
		if p.Relation == federation.Blocked {
			p.Relation = federation.Known
		}
		return nil
	})
}

// Accept is this administrator's yes to a partnership with peer id: the
// peer becomes a partner when its administrator already asked, else it is
// asked. The message is delivered now if the peer answers, else with the
// next heartbeats.
func (r *Registry) Accept(ctx context.Context, actor, id string) (federation.Peer, error) {
	p, err := r.modify(ctx, actor, id, 0, func(p *federation.Peer) error {
		switch p.Relation {
		case federation.Blocked:
			return fmt.Errorf("peer %s: %w: unblock it first", id, ErrBlocked)
		case federation.Known:
			p.Relation, p.Pending = federation.Requested, "request"
		case federation.Invited:
			p.Relation, p.Pending = federation.Partner, "accept"
		}
		return nil
	})
	if err != nil || p.Pending == "" {
		return p, err
	}
	return r.deliver(ctx, p), nil
}

// Remove forgets peer id: every call of it is refused as unknown, and it
// no longer sees anything shared with partners. The peer is told when it
// answers.
func (r *Registry) Remove(ctx context.Context, actor, id string) error {
	p, err := r.Get(ctx, id)
	if err != nil {
		return err
	}
	if p.Relation == federation.Partner || p.Relation == federation.Requested || p.Relation == federation.Invited {
		if err := r.send(ctx, p, "end"); err != nil {
			r.log.InfoContext(ctx, "could not tell the removed peer", "peer", id, "err", err)
		}
	}
	if err := r.col.Delete(ctx, id, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	_ = r.health.Delete(ctx, id, 0)
	r.dir.Forget(id)
	if r.events != nil {
		if err := r.events.Publish(ctx, "peer.removed", event.PeerRemoved, actor, map[string]string{"id": id}); err != nil {
			r.log.WarnContext(ctx, "publish peer removal", "peer", id, "err", err)
		}
	}
	return nil
}

// Message is the body of POST /peer/federation/partnership.
type Message struct {
	// Action is request, accept or end.
	Action string `json:"action" enums:"request,accept,end"`
	// SelfDoc is the sender's signed self document: a peer that does not
	// know the sender pins its key from it.
	SelfDoc json.RawMessage `json:"self_doc" swaggertype:"object"`
}

// Answer answers a Message: the relation the receiver now has with the
// sender.
type Answer struct {
	Relation federation.Relation `json:"relation"`
}

// send delivers action to p, signed.
func (r *Registry) send(ctx context.Context, p federation.Peer, action string) error {
	doc, err := r.doc()
	if err != nil {
		return err
	}
	body, err := json.Marshal(Message{Action: action, SelfDoc: doc})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/peer/federation/partnership", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if err := r.signer().Sign(req, peerid.ID(p.ID), body); err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s: %s", p.URL, resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

// deliver sends p's pending message and clears it once taken.
func (r *Registry) deliver(ctx context.Context, p federation.Peer) federation.Peer {
	if err := r.send(ctx, p, p.Pending); err != nil {
		r.log.InfoContext(ctx, "partnership message not delivered yet", "peer", p.ID, "action", p.Pending, "err", err)
		return p
	}
	sent := p.Pending
	next, err := r.modify(ctx, "", p.ID, 0, func(q *federation.Peer) error {
		if q.Pending == sent {
			q.Pending = ""
		}
		return nil
	})
	if err != nil {
		r.log.WarnContext(ctx, "clear the delivered partnership message", "peer", p.ID, "err", err)
		return p
	}
	return next
}

// Receive applies a verified partnership message from peer ks.
func (r *Registry) Receive(ctx context.Context, ks *peerid.KeySet, action string) (federation.Relation, error) {
	id := string(ks.Peer())
	for {
		cur, err := r.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			if action != "request" {
				if action == "end" {
					return federation.Known, nil
				}
				return "", fmt.Errorf("%w: this peer did not ask %s for a partnership", ErrConflict, id)
			}
			now := r.now().UTC()
			p := fromKeySet(ks)
			p.URL, p.Relation, p.AddedAt, p.UpdatedAt = ks.Doc().URL, federation.Invited, now, now
			if _, err := r.col.Insert(ctx, id, p); errors.Is(err, store.ErrDuplicate) {
				continue
			} else if err != nil {
				return "", err
			}
			r.dir.Forget(id)
			r.changed(ctx, "peer:"+id, p)
			return p.Relation, nil
		}
		if err != nil {
			return "", err
		}
		next := cur
		if err := repin(&next, ks); err != nil {
			return "", err
		}
		switch {
		case cur.Relation == federation.Blocked:
			return "", ErrBlocked
		case action == "request" && (cur.Relation == federation.Known || cur.Relation == federation.Invited):
			next.Relation = federation.Invited
		case action == "request" && cur.Relation == federation.Requested,
			action == "accept" && (cur.Relation == federation.Requested || cur.Relation == federation.Partner):
			next.Relation = federation.Partner
			if next.Pending == "request" {
				next.Pending = ""
			}
		case action == "request" && cur.Relation == federation.Partner:
			// A retransmission, or the peer lost its record: tell it again.
			next.Pending = "accept"
		case action == "end":
			next.Relation, next.Pending = federation.Known, ""
		default:
			return cur.Relation, fmt.Errorf("%w: %s is %s here; it cannot %s", ErrConflict, id, cur.Relation, action)
		}
		p, err := r.replace(ctx, "peer:"+id, cur, next)
		if errors.Is(err, ErrVersion) {
			continue
		}
		if err != nil {
			return "", err
		}
		if p.Pending != "" {
			go r.deliver(context.WithoutCancel(ctx), p)
		}
		return p.Relation, nil
	}
}

// Heartbeat reads every unblocked peer's self document, which updates its
// health and round-trip time and its pinned keys after a rotation, and
// delivers pending partnership messages.
func (r *Registry) Heartbeat(ctx context.Context) {
	peers, _, err := r.List(ctx, Query{})
	if err != nil {
		r.log.WarnContext(ctx, "heartbeat: list peers", "err", err)
		return
	}
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, p := range peers {
		if p.Relation == federation.Blocked {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r.beat(ctx, p)
		})
	}
	wg.Wait()
}

func (r *Registry) beat(ctx context.Context, p federation.Peer) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := r.now()
	ks, err := r.fetchSelf(ctx, p.URL)
	end := r.now().UTC()
	s := p.Status
	s.LastChecked = &end
	was := s.Health
	if err == nil && string(ks.Peer()) != p.ID {
		err = fmt.Errorf("%s now answers as another peer (%s)", p.URL, ks.Peer())
	}
	if err != nil {
		s.Health, s.LastError = federation.Offline, err.Error()
	} else {
		s.Health, s.LastError, s.LastSeen = federation.Online, "", &end
		s.RTTMillis = float64(end.Sub(start).Microseconds()) / 1000
	}
	if err := r.saveHealth(ctx, p.ID, s); err != nil {
		r.log.WarnContext(ctx, "heartbeat: save the peer's health", "peer", p.ID, "err", err)
	}
	if was != s.Health && r.events != nil {
		_ = r.events.Publish(ctx, "peer.health", event.PeerHealth, "", map[string]any{"id": p.ID, "health": s.Health})
	}
	if err != nil {
		return
	}
	if pinned, perr := peerid.NewKeySet(p.SelfDoc); perr == nil {
		if next, uerr := pinned.Update(ks.Raw()); uerr == nil && !bytes.Equal(next.Raw(), p.SelfDoc) {
			if _, err := r.modify(ctx, "", p.ID, 0, func(q *federation.Peer) error { return repin(q, ks) }); err != nil {
				r.log.WarnContext(ctx, "heartbeat: pin the newer self document", "peer", p.ID, "err", err)
			}
		}
	}
	if p.Pending != "" {
		r.deliver(ctx, p)
	}
}

// saveHealth stores s as peer id's health.
func (r *Registry) saveHealth(ctx context.Context, id string, s federation.Status) error {
	set := map[string]any{"health": s.Health, "last_seen": s.LastSeen, "last_checked": s.LastChecked,
		"rtt_ms": s.RTTMillis, "last_error": s.LastError}
	_, err := r.health.UpdateIf(ctx, id, nil, set)
	if errors.Is(err, store.ErrNotFound) {
		if _, err = r.health.Insert(ctx, id, s); errors.Is(err, store.ErrDuplicate) {
			_, err = r.health.UpdateIf(ctx, id, nil, set)
		}
	}
	return err
}
