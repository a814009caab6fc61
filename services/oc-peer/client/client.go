// Package client is the typed Go client of oc-peer's API: this peer's self
// document, the peers it knows and the partnerships with them.
package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/peerid"
)

// Prefix is oc-peer's path prefix.
const Prefix = "/peer"

// Client calls oc-peer through the gateway or directly.
type Client struct{ c *apiclient.Client }

// New returns a client for the service at baseURL (the gateway's URL works).
func New(baseURL string, token apiclient.TokenSource, hc *http.Client) *Client {
	return &Client{c: apiclient.New(baseURL, token, hc)}
}

// Ready returns nil when the service and its dependencies are ready.
func (c *Client) Ready(ctx context.Context) error { return c.c.Ready(ctx, Prefix) }

// Self reads and verifies the peer's signed self document (no token
// needed). Compare its fingerprint (peerid.Fingerprint of the current key)
// out of band before trusting the peer.
func (c *Client) Self(ctx context.Context) (*peerid.SelfDoc, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.c.BaseURL+Prefix+"/self", nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.c.HTTP.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s/self: %s", Prefix, resp.Status)
	}
	doc, err := peerid.VerifySelfDoc(raw)
	return doc, raw, err
}

// ListOptions filter List.
type ListOptions struct {
	Relation federation.Relation
	Group    string
	Query    string
	Limit    int
	Offset   int
}

// Page is a page of peers.
type Page struct {
	Items  []federation.Peer `json:"items"`
	Total  int64             `json:"total"`
	Limit  int               `json:"limit"`
	Offset int               `json:"offset"`
}

// List returns a page of the peers this peer knows.
func (c *Client) List(ctx context.Context, o ListOptions) (Page, error) {
	v := url.Values{}
	for k, s := range map[string]string{"relation": string(o.Relation), "group": o.Group, "q": o.Query} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if o.Limit != 0 {
		v.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Offset != 0 {
		v.Set("offset", strconv.Itoa(o.Offset))
	}
	target := Prefix + "/peers"
	if q := v.Encode(); q != "" {
		target += "?" + q
	}
	var p Page
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: target}, &p)
	return p, err
}

// Get returns one peer.
func (c *Client) Get(ctx context.Context, id string) (federation.Peer, error) {
	return c.peer(ctx, http.MethodGet, peerPath(id), nil, nil)
}

// Add reads the self document at baseURL/peer/self and pins the peer's
// key (administrators). A peer already known is answered as it is, its
// URL updated.
func (c *Client) Add(ctx context.Context, baseURL string, groups []string) (federation.Peer, error) {
	return c.peer(ctx, http.MethodPost, Prefix+"/peers", map[string]any{"url": baseURL, "groups": groups}, nil)
}

// Update changes the URL and/or the groups of peer id at version (0: any).
func (c *Client) Update(ctx context.Context, id string, version int64, baseURL *string, groups *[]string) (federation.Peer, error) {
	body := map[string]any{}
	if baseURL != nil {
		body["url"] = *baseURL
	}
	if groups != nil {
		body["groups"] = *groups
	}
	var h map[string]string
	if version != 0 {
		h = apiclient.IfMatch(version)
	}
	return c.peer(ctx, http.MethodPatch, peerPath(id), body, h)
}

// Accept is this administrator's yes to a partnership with peer id.
func (c *Client) Accept(ctx context.Context, id string) (federation.Peer, error) {
	return c.peer(ctx, http.MethodPost, peerPath(id)+"/accept", nil, nil)
}

// Block refuses every call of peer id.
func (c *Client) Block(ctx context.Context, id string) (federation.Peer, error) {
	return c.peer(ctx, http.MethodPost, peerPath(id)+"/block", nil, nil)
}

// Unblock makes a blocked peer known again.
func (c *Client) Unblock(ctx context.Context, id string) (federation.Peer, error) {
	return c.peer(ctx, http.MethodPost, peerPath(id)+"/unblock", nil, nil)
}

// Remove forgets peer id.
func (c *Client) Remove(ctx context.Context, id string) error {
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodDelete, Path: peerPath(id)}, nil)
	return err
}

func (c *Client) peer(ctx context.Context, method, path string, body any, h map[string]string) (federation.Peer, error) {
	var p federation.Peer
	_, err := c.c.Do(ctx, apiclient.Request{Method: method, Path: path, Body: body, Header: h}, &p)
	return p, err
}

func peerPath(id string) string { return Prefix + "/peers/" + url.PathEscape(id) }
