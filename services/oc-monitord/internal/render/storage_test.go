package render_test

import (
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"

	"github.com/opencloud/opencloud/services/oc-monitord/internal/render"
)

// TestStoragePaths: the Argo artifact each storage link becomes. A bucket
// path ending in / is a prefix under which a file keeps its name; any other
// is the exact key; nothing is archived, so the object is the file.
func TestStoragePaths(t *testing.T) {
	type want struct{ path, key string }
	for _, tc := range []struct {
		name                string
		kind                wf.LinkKind
		source, destination string
		want                want
	}{
		{"file to a prefix keeps its name", wf.LinkStorageWrite, "/out/x.txt", "x/", want{"/out/x.txt", "x/x.txt"}},
		{"file to a key", wf.LinkStorageWrite, "/out/x.txt", "results/2025/x.csv", want{"/out/x.txt", "results/2025/x.csv"}},
		{"directory to a prefix keeps its name", wf.LinkStorageWrite, "/out/tiles", "results/", want{"/out/tiles", "results/tiles"}},
		{"directory contents to a prefix", wf.LinkStorageWrite, "/out/tiles/", "results/", want{"/out/tiles", "results"}},
		{"read a key", wf.LinkStorageRead, "x/x.txt", "/in/x.txt", want{"/in/x.txt", "x/x.txt"}},
		{"read a key into a directory", wf.LinkStorageRead, "x/x.txt", "/in/", want{"/in/x.txt", "x/x.txt"}},
		{"read a prefix", wf.LinkStorageRead, "x/", "/in/x/", want{"/in/x", "x"}},
		{"read a prefix into a path without /", wf.LinkStorageRead, "2024/tiles/", "/in/tiles", want{"/in/tiles", "2024/tiles"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture().
				storage("s3", "local", "https://s3.example.org", "b", "").
				processing("p", resource.Processing{}).
				compute("k8s", "local", resource.Compute{}).
				runs("p", "k8s")
			if tc.kind == wf.LinkStorageWrite {
				f.link(tc.kind, "p", "s3", tc.source, tc.destination)
			} else {
				f.link(tc.kind, "s3", "p", tc.source, tc.destination)
			}
			s := tmpl(t, mustRender(t, f.e, render.Options{}), "p")
			arts := s.Outputs.Artifacts
			if tc.kind == wf.LinkStorageRead {
				arts = s.Inputs.Artifacts
			}
			if len(arts) != 1 {
				t.Fatalf("%d artifacts: %+v", len(arts), arts)
			}
			a := arts[0]
			if a.S3 == nil || a.Archive == nil || a.Archive.None == nil || a.Archive.Tar != nil || a.Archive.Zip != nil {
				t.Fatalf("artifact %+v: want S3, archive none", a)
			}
			if got := (want{a.Path, a.S3.Key}); got != tc.want {
				t.Errorf("path, key = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestWriteThenRead: the workflow of the README — one step writes
// /out/x.txt to the prefix x/, the next reads x/x.txt back — asks Argo to
// read the very key it wrote.
func TestWriteThenRead(t *testing.T) {
	f := newFixture().
		storage("s3", "local", "https://s3.example.org", "b", "").
		processing("w", resource.Processing{}).processing("r", resource.Processing{}).
		compute("k8s", "local", resource.Compute{}).
		runs("w", "k8s").runs("r", "k8s").dep("w", "r").
		link(wf.LinkStorageWrite, "w", "s3", "/out/x.txt", "x/").
		link(wf.LinkStorageRead, "s3", "r", "x/x.txt", "/in/x.txt")
	w := mustRender(t, f.e, render.Options{})
	out, in := tmpl(t, w, "w").Outputs.Artifacts, tmpl(t, w, "r").Inputs.Artifacts
	key := func(as []wfv1.Artifact) string {
		if len(as) != 1 || as[0].S3 == nil {
			t.Fatalf("artifacts %+v", as)
		}
		return as[0].S3.Key
	}
	if wk, rk := key(out), key(in); wk != "x/x.txt" || rk != wk {
		t.Errorf("written at %q, read from %q: want both x/x.txt", wk, rk)
	}
}
