package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/store"
)

// benchGroups is how many distinct values the indexed field takes, so an
// equality matches n/benchGroups documents.
const benchGroups = 50

// benchDoc is a typical small service document (~400 bytes of JSON).
type benchDoc struct {
	ID      string    `json:"id,omitempty"`
	Version int64     `json:"version,omitempty"`
	Group   string    `json:"group"`
	Name    string    `json:"name"`
	N       int64     `json:"n"`
	At      time.Time `json:"at"`
	Tags    []string  `json:"tags"`
	Payload string    `json:"payload"`
}

func benchSpec(name string) store.Spec {
	return store.Spec{
		Name: name,
		Fields: []store.Field{
			{Name: "group", Type: store.String},
			{Name: "n", Type: store.Int},
			{Name: "at", Type: store.Time},
			{Name: "tags", Type: store.StringArray},
		},
		Text: []string{"tags"},
	}
}

func newBenchDoc(i int) benchDoc {
	return benchDoc{
		Group:   fmt.Sprintf("g%02d", i%benchGroups),
		Name:    fmt.Sprintf("item %d", i),
		N:       int64(i),
		At:      at.Add(time.Duration(i) * time.Second),
		Tags:    []string{"alpha", "beta", fmt.Sprintf("t%d", i%7)},
		Payload: strings.Repeat("lorem ipsum ", 25),
	}
}

// Bench measures Get, Replace and Find (equality on an indexed field, limit
// 20, with the total) in collections of 1k and 10k documents. open is called
// once.
func Bench(b *testing.B, open func(b *testing.B) store.Store) {
	s := open(b)
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("docs=%dk", n/1000), func(b *testing.B) {
			c, versions := benchSeed(b, s, n)
			b.Run("Get", func(b *testing.B) { benchGet(b, c, n) })
			b.Run("Replace", func(b *testing.B) { benchReplace(b, c, versions) })
			b.Run("Find", func(b *testing.B) { benchFind(b, c, n) })
		})
	}
}

func benchID(i int) string { return fmt.Sprintf("doc-%06d", i) }

func benchSeed(b *testing.B, s store.Store, n int) (store.Collection, []int64) {
	ctx := context.Background()
	c, err := s.Collection(ctx, benchSpec(fmt.Sprintf("bench%d_%d", n, collectionSeq.Add(1))))
	if err != nil {
		b.Fatal(err)
	}
	versions := make([]int64, n)
	for i := range n {
		if versions[i], err = c.Insert(ctx, benchID(i), newBenchDoc(i)); err != nil {
			b.Fatal(err)
		}
	}
	return c, versions
}

func benchGet(b *testing.B, c store.Collection, n int) {
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		var d benchDoc
		if _, err := c.Get(ctx, benchID((i*7919)%n), &d); err != nil {
			b.Fatal(err)
		}
	}
}

func benchReplace(b *testing.B, c store.Collection, versions []int64) {
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		k := (i * 7919) % len(versions)
		d := newBenchDoc(k)
		d.Name = fmt.Sprintf("item %d rev %d", k, versions[k])
		v, err := c.Replace(ctx, benchID(k), versions[k], d)
		if err != nil {
			b.Fatal(err)
		}
		versions[k] = v
	}
}

func benchFind(b *testing.B, c store.Collection, n int) {
	ctx := context.Background()
	want := int64(n / benchGroups)
	for i := 0; b.Loop(); i++ {
		q := store.Query{Filter: store.Eq("group", fmt.Sprintf("g%02d", i%benchGroups)), Limit: 20}
		recs, total, err := c.Find(ctx, q)
		if err != nil || len(recs) != 20 || total != want {
			b.Fatalf("Find: %d records, total %d, %v; want 20, %d", len(recs), total, err, want)
		}
	}
}
