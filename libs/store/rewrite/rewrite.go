// Package rewrite goes through a collection when a service starts and
// rewrites the documents that need it (data written by an older version of
// the service). Every write is conditioned on the version read, so that
// processes starting together on one store change each document once
// between them, and a second run changes nothing.
package rewrite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencloud/opencloud/libs/server/retry"
	"github.com/opencloud/opencloud/libs/store"
)

// PageSize is how many documents Pages reads at a time.
const PageSize = 500

// Pages calls visit on every item list returns, read PageSize at a time
// (limit, offset) until a page comes back short, and returns how many
// items visit reported it changed. list must keep one order (the store's
// default, by id, does), and visit must not remove items, or later pages
// would skip some.
func Pages[T any](ctx context.Context, list func(ctx context.Context, limit, offset int) ([]T, error),
	visit func(context.Context, T) (bool, error),
) (int, error) {
	changed := 0
	for offset := 0; ; offset += PageSize {
		page, err := list(ctx, PageSize, offset)
		if err != nil {
			return changed, err
		}
		for _, item := range page {
			done, err := visit(ctx, item)
			if err != nil {
				return changed, err
			}
			if done {
				changed++
			}
		}
		if len(page) < PageSize {
			return changed, nil
		}
	}
}

// One reads a document with get (which returns it and its version), lets
// fix change it (fix reports false when nothing needs changing) and writes
// it with put, conditioned on the version read. When another writer got
// there first (store.ErrVersionConflict), it reads the document again and
// starts over, as retry.OnConflict does; a document that is gone
// (store.ErrNotFound) is left alone. It reports whether put wrote.
func One[T any](ctx context.Context, get func(context.Context) (T, int64, error), fix func(*T) bool,
	put func(ctx context.Context, doc T, version int64) error,
) (bool, error) {
	return retry.OnConflict(ctx, func(ctx context.Context) (bool, error) {
		doc, version, err := get(ctx)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if !fix(&doc) {
			return false, nil
		}
		err = put(ctx, doc, version)
		switch {
		case errors.Is(err, store.ErrVersionConflict):
			return false, retry.LostRace(err)
		case errors.Is(err, store.ErrNotFound):
			return false, nil
		}
		return err == nil, err
	})
}

// All rewrites, as One does, every document of those list pages through
// that fix changes, and returns how many it changed: get reads a document
// again (given it as listed), put writes it at the version read.
func All[T any](ctx context.Context, list func(ctx context.Context, limit, offset int) ([]T, error),
	get func(ctx context.Context, listed T) (T, int64, error), fix func(*T) bool,
	put func(ctx context.Context, doc T, version int64) error,
) (int, error) {
	return Pages(ctx, list, func(ctx context.Context, doc T) (bool, error) {
		if !fix(&doc) {
			return false, nil
		}
		return One(ctx, func(ctx context.Context) (T, int64, error) { return get(ctx, doc) }, fix, put)
	})
}

// Fields is a stored document as its top-level fields, each kept as it
// was read.
type Fields map[string]json.RawMessage

// Collection rewrites, as All does, every document of c that fix changes,
// keeping the fields fix leaves alone exactly as they were: for documents
// that several packages write, or that have no Go type at hand.
func Collection(ctx context.Context, c store.Collection, fix func(Fields) bool) (int, error) {
	fixDoc := func(f *Fields) bool { return fix(*f) }
	return Pages(ctx, func(ctx context.Context, limit, offset int) ([]store.Record, error) {
		page, _, err := c.Find(ctx, store.Query{Limit: limit, Offset: offset})
		return page, err
	}, func(ctx context.Context, rec store.Record) (bool, error) {
		var f Fields
		if err := rec.Decode(&f); err != nil {
			return false, fmt.Errorf("decode %s: %w", rec.ID, err)
		}
		if !fixDoc(&f) {
			return false, nil
		}
		return One(ctx, func(ctx context.Context) (Fields, int64, error) {
			var f Fields
			v, err := c.Get(ctx, rec.ID, &f)
			return f, v, err
		}, fixDoc, func(ctx context.Context, f Fields, version int64) error {
			_, err := c.Replace(ctx, rec.ID, version, f)
			return err
		})
	})
}

// Field rewrites with fix the field key of f, a T, as JSON does; a field
// f does not have is left absent.
func Field[T any](f Fields, key string, fix func(*T) bool) bool {
	raw, ok := f[key]
	if !ok || !JSON(&raw, fix) {
		return false
	}
	f[key] = raw
	return true
}

// JSON decodes *data as a T, lets fix change it, and encodes it back into
// *data when fix reports a change: for the parts of a document kept as raw
// JSON. Data that is empty or not a T is left as it is, and JSON reports
// false.
func JSON[T any](data *json.RawMessage, fix func(*T) bool) bool {
	var v T
	if len(*data) == 0 || json.Unmarshal(*data, &v) != nil || !fix(&v) {
		return false
	}
	out, err := json.Marshal(v)
	if err != nil {
		return false
	}
	*data = out
	return true
}
