package resource

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestInputCarriesEveryWritableField guards Resource.Input: every field of
// Input must come back from a Resource, or a client that reads, changes and
// sends back a resource would silently drop it.
func TestInputCarriesEveryWritableField(t *testing.T) {
	r := Resource{
		ID: "id", Kind: KindProcessing, Name: "n", Description: "d", ShortDescription: "s", Logo: "https://x/l.png",
		Owners: []string{"a"}, License: "MIT", Tags: []string{"t"}, Visibility: Groups, Groups: []string{"g"},
		Pricing:    Pricing{Model: Subscription, Amount: 1, Currency: "EUR", Period: Month},
		Data:       &Data{Location: "l"},
		Processing: &Processing{Image: "i", Env: map[string]string{"K": "v"}},
		Storage:    &Storage{Bucket: "b"}, Compute: &Compute{ClusterRef: "c"}, Workflow: &Workflow{WorkflowID: "w"},
		PeerID: "p", Creator: "c", CreatedAt: time.Now(), UpdatedAt: time.Now(), Version: 7,
	}
	in := r.Input()
	v := reflect.ValueOf(in)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("Input().%s is empty", v.Type().Field(i).Name)
		}
	}
	inJSON, _ := json.Marshal(in)
	rJSON, _ := json.Marshal(r)
	var a, b map[string]any
	_ = json.Unmarshal(inJSON, &a)
	_ = json.Unmarshal(rJSON, &b)
	for k, x := range a {
		if !reflect.DeepEqual(x, b[k]) {
			t.Errorf("field %s: input %v, resource %v", k, x, b[k])
		}
	}
}
