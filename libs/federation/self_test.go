package federation_test

import (
	"context"
	"testing"

	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/testenv"
)

// PublishSelf replaces what an earlier start published; LoadSelf reads it.
func TestPublishSelf(t *testing.T) {
	ctx := context.Background()
	st := testenv.SQLiteStore(t)
	if _, err := federation.LoadSelf(ctx, st); err == nil {
		t.Fatal("LoadSelf on a new store: no error")
	}
	a := federation.Self{ID: "aejcavshlktviy2hjqbilx25x4v4vnz5uzitlcbz5g3xjans5kyqo4em", Name: "a", URL: "http://127.0.0.1:1"}
	b := federation.Self{ID: "aejcaxvf3uwp4fsvqrz3wlvxe3zmabqtpvz3jebnyl7q3g7eqwegbmpl", Name: "b"}
	for _, want := range []federation.Self{a, a, b} {
		if err := federation.PublishSelf(ctx, st, want); err != nil {
			t.Fatal(err)
		}
		got, err := federation.LoadSelf(ctx, st)
		if err != nil || got != want {
			t.Fatalf("LoadSelf = %+v, %v; want %+v", got, err, want)
		}
	}
	if err := federation.PublishSelf(ctx, st, federation.Self{ID: "local"}); err == nil {
		t.Error("PublishSelf of a malformed id: no error")
	}
}
