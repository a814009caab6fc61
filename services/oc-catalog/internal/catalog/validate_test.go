package catalog

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/opencloud/opencloud/libs/resource"
)

// valid returns a valid input of each kind.
func valid(k resource.Kind) resource.Input {
	in := resource.Input{Kind: k, Name: "A " + string(k), Visibility: resource.Public}
	switch k {
	case resource.KindData:
		in.Data = &resource.Data{Location: "s3://bucket/path", Format: "csv", SizeBytes: 10, Jurisdiction: "fr"}
	case resource.KindProcessing:
		in.Processing = &resource.Processing{Image: "ghcr.io/acme/ndvi:1.2.0", Command: []string{"/bin/ndvi"},
			Env: map[string]string{"MODE": "fast"}, Ports: []int{8080},
			Requests: resource.Requests{CPUMillicores: 500, MemoryBytes: 1 << 29}}
	case resource.KindStorage:
		in.Storage = &resource.Storage{Endpoint: "https://s3.example.org", Bucket: "shared-results", Region: "eu-west-3"}
	case resource.KindCompute:
		in.Compute = &resource.Compute{ClusterRef: "edge-paris-1", Architecture: "arm64", CPUCores: 4, Country: "fr",
			CarbonIntensity: 56, SecurityStandards: []string{"ISO27001"},
			NodeSelector: []resource.Label{{Key: "kubernetes.io/arch", Value: "arm64"}, {Key: "zone", Value: ""}}}
	case resource.KindWorkflow:
		in.Workflow = &resource.Workflow{WorkflowID: "6b0e3c6c-4d0a-4d21-9a43-0e4c1d7b9f10"}
	}
	return in
}

func TestCheckAcceptsEveryKind(t *testing.T) {
	for _, k := range resource.Kinds {
		t.Run(string(k), func(t *testing.T) {
			in := valid(k)
			if err := Check(&in); err != nil {
				t.Fatalf("Check: %v", err)
			}
		})
	}
}

func TestCheckNormalizes(t *testing.T) {
	in := valid(resource.KindData)
	in.Name = "  Tiles  "
	in.Tags = []string{"a", "b", "a"}
	in.Visibility = ""
	in.Pricing = nil
	if err := Check(&in); err != nil {
		t.Fatal(err)
	}
	if in.Name != "Tiles" {
		t.Errorf("name = %q, want trimmed", in.Name)
	}
	if !slices.Equal(in.Tags, []string{"a", "b"}) {
		t.Errorf("tags = %v, want duplicates dropped", in.Tags)
	}
	if in.Visibility != resource.Private {
		t.Errorf("visibility = %q, want the private default", in.Visibility)
	}
	if in.Pricing == nil || in.Pricing.Model != resource.Free {
		t.Errorf("pricing = %+v, want free", in.Pricing)
	}
	if in.Data.Jurisdiction != "FR" {
		t.Errorf("jurisdiction = %q, want upper-cased", in.Data.Jurisdiction)
	}
	st := valid(resource.KindStorage)
	if err := Check(&st); err != nil || st.Storage.Encryption != resource.EncryptionNone {
		t.Errorf("storage encryption = %q (err %v), want none by default", st.Storage.Encryption, err)
	}
}

func TestCheckRejects(t *testing.T) {
	tests := []struct {
		name   string
		kind   resource.Kind
		change func(*resource.Input)
		fields []string // every field named in the problems, in order
	}{
		{"missing name", resource.KindData, func(in *resource.Input) { in.Name = "   " }, []string{"name"}},
		{"long name", resource.KindData, func(in *resource.Input) { in.Name = strings.Repeat("é", MaxName+1) }, []string{"name"}},
		{"control in name", resource.KindData, func(in *resource.Input) { in.Name = "a\x00b" }, []string{"name"}},
		{"newline in short description", resource.KindData, func(in *resource.Input) { in.ShortDescription = "a\nb" }, []string{"short_description"}},
		{"long description", resource.KindData, func(in *resource.Input) { in.Description = strings.Repeat("x", MaxDescription+1) }, []string{"description"}},
		{"missing kind", resource.KindData, func(in *resource.Input) { in.Kind = ""; in.Data = nil }, []string{"kind"}},
		{"unknown kind", resource.KindData, func(in *resource.Input) { in.Kind = "dataset" }, []string{"kind"}},
		{"missing kind object", resource.KindData, func(in *resource.Input) { in.Data = nil }, []string{"data"}},
		{"other kind object", resource.KindData, func(in *resource.Input) { in.Storage = &resource.Storage{} }, []string{"storage"}},
		{"logo not a URL", resource.KindData, func(in *resource.Input) { in.Logo = "logo.png" }, []string{"logo"}},
		{"logo with credentials", resource.KindData, func(in *resource.Input) { in.Logo = "https://u:p@x.org/l.png" }, []string{"logo"}},
		{"logo javascript", resource.KindData, func(in *resource.Input) { in.Logo = "javascript:alert(1)" }, []string{"logo"}},
		{"bad tag", resource.KindData, func(in *resource.Input) { in.Tags = []string{"ok", "Not OK"} }, []string{"tags[1]"}},
		{"long tag", resource.KindData, func(in *resource.Input) { in.Tags = []string{strings.Repeat("a", MaxTag+1)} }, []string{"tags[0]"}},
		{"too many tags", resource.KindData, func(in *resource.Input) {
			for i := range MaxTags + 1 {
				in.Tags = append(in.Tags, "t"+strings.Repeat("x", i))
			}
		}, []string{"tags"}},
		{"blank owner", resource.KindData, func(in *resource.Input) { in.Owners = []string{""} }, []string{"owners[0]"}},
		{"unknown visibility", resource.KindData, func(in *resource.Input) { in.Visibility = "friends" }, []string{"visibility"}},
		{"groups without list", resource.KindData, func(in *resource.Input) { in.Visibility = resource.Groups }, []string{"groups"}},
		{"groups list when public", resource.KindData, func(in *resource.Input) { in.Groups = []string{"lab-a"} }, []string{"groups"}},
		{"unknown pricing model", resource.KindData, func(in *resource.Input) { in.Pricing = &resource.Pricing{Model: "barter"} }, []string{"pricing.model"}},
		{"priced without currency", resource.KindData, func(in *resource.Input) {
			in.Pricing = &resource.Pricing{Model: resource.PerHour, Amount: 1}
		}, []string{"pricing.currency"}},
		{"bad currency", resource.KindData, func(in *resource.Input) {
			in.Pricing = &resource.Pricing{Model: resource.PerUse, Amount: 1, Currency: "EURO"}
		}, []string{"pricing.currency"}},
		{"negative amount", resource.KindData, func(in *resource.Input) {
			in.Pricing = &resource.Pricing{Model: resource.PerGB, Amount: -1, Currency: "EUR"}
		}, []string{"pricing.amount"}},
		{"free with amount", resource.KindData, func(in *resource.Input) { in.Pricing = &resource.Pricing{Model: resource.Free, Amount: 3} }, []string{"pricing.amount"}},
		{"subscription without period", resource.KindData, func(in *resource.Input) {
			in.Pricing = &resource.Pricing{Model: resource.Subscription, Amount: 9, Currency: "EUR"}
		}, []string{"pricing.period"}},
		{"period when per hour", resource.KindData, func(in *resource.Input) {
			in.Pricing = &resource.Pricing{Model: resource.PerHour, Amount: 9, Currency: "EUR", Period: resource.Month}
		}, []string{"pricing.period"}},
		{"data without location", resource.KindData, func(in *resource.Input) { in.Data.Location = "" }, []string{"data.location"}},
		{"negative size", resource.KindData, func(in *resource.Input) { in.Data.SizeBytes = -1 }, []string{"data.size_bytes"}},
		{"bad jurisdiction", resource.KindData, func(in *resource.Input) { in.Data.Jurisdiction = "France" }, []string{"data.jurisdiction"}},
		{"missing image", resource.KindProcessing, func(in *resource.Input) { in.Processing.Image = "" }, []string{"processing.image"}},
		{"bad image", resource.KindProcessing, func(in *resource.Input) { in.Processing.Image = "Ubuntu Latest" }, []string{"processing.image"}},
		{"bad env name", resource.KindProcessing, func(in *resource.Input) { in.Processing.Env = map[string]string{"1X": "y"} }, []string{"processing.env"}},
		{"bad annotation key", resource.KindProcessing, func(in *resource.Input) { in.Processing.Annotations = []resource.Label{{Key: "not a key"}} }, []string{"processing.annotations[0].key"}},
		{"reserved annotation", resource.KindProcessing, func(in *resource.Input) {
			in.Processing.Annotations = []resource.Label{{Key: "a.io/x", Value: "1"}, {Key: "multicluster.admiralty.io/elect"}, {Key: "a.io/x"}}
		}, []string{"processing.annotations[1].key", "processing.annotations[2].key"}},
		{"bad port", resource.KindProcessing, func(in *resource.Input) { in.Processing.Ports = []int{0, 70000} }, []string{"processing.ports[0]", "processing.ports[1]"}},
		{"duplicate port", resource.KindProcessing, func(in *resource.Input) { in.Processing.Ports = []int{80, 80} }, []string{"processing.ports[1]"}},
		{"negative requests", resource.KindProcessing, func(in *resource.Input) {
			in.Processing.Requests = resource.Requests{CPUMillicores: -1, MemoryBytes: -1, GPUs: -1}
		}, []string{"processing.requests.cpu_millicores", "processing.requests.memory_bytes", "processing.requests.gpus"}},
		{"storage endpoint not http", resource.KindStorage, func(in *resource.Input) { in.Storage.Endpoint = "ftp://s3.example.org" }, []string{"storage.endpoint"}},
		{"missing endpoint", resource.KindStorage, func(in *resource.Input) { in.Storage.Endpoint = "" }, []string{"storage.endpoint"}},
		{"bad bucket", resource.KindStorage, func(in *resource.Input) { in.Storage.Bucket = "My_Bucket" }, []string{"storage.bucket"}},
		{"negative capacity", resource.KindStorage, func(in *resource.Input) { in.Storage.CapacityBytes = -5 }, []string{"storage.capacity_bytes"}},
		{"unknown encryption", resource.KindStorage, func(in *resource.Input) { in.Storage.Encryption = "rot13" }, []string{"storage.encryption"}},
		{"missing cluster", resource.KindCompute, func(in *resource.Input) { in.Compute.ClusterRef = "" }, []string{"compute.cluster_ref"}},
		{"unknown architecture", resource.KindCompute, func(in *resource.Input) { in.Compute.Architecture = "x86" }, []string{"compute.architecture"}},
		{"negative carbon", resource.KindCompute, func(in *resource.Input) { in.Compute.CarbonIntensity = -1 }, []string{"compute.carbon_intensity"}},
		{"bad country", resource.KindCompute, func(in *resource.Input) { in.Compute.Country = "FRA" }, []string{"compute.country"}},
		{"bad label key", resource.KindCompute, func(in *resource.Input) {
			in.Compute.NodeSelector = []resource.Label{{Key: "Bad Prefix/x", Value: "a"}, {Key: "-x", Value: "a"}}
		}, []string{"compute.node_selector[0].key", "compute.node_selector[1].key"}},
		{"label twice", resource.KindCompute, func(in *resource.Input) {
			in.Compute.NodeSelector = append(in.Compute.NodeSelector, resource.Label{Key: "zone", Value: "b"})
		}, []string{"compute.node_selector[2].key"}},
		{"bad label value", resource.KindCompute, func(in *resource.Input) {
			in.Compute.NodeSelector = []resource.Label{{Key: "zone", Value: "not valid!"}}
		}, []string{"compute.node_selector[0].value"}},
		{"negative cores", resource.KindCompute, func(in *resource.Input) { in.Compute.CPUCores = -2 }, []string{"compute.cpu_cores"}},
		{"missing workflow id", resource.KindWorkflow, func(in *resource.Input) { in.Workflow.WorkflowID = "" }, []string{"workflow.workflow_id"}},
		{"several at once", resource.KindData, func(in *resource.Input) {
			in.Name = ""
			in.Visibility = "nobody"
			in.Data.SizeBytes = -1
		}, []string{"name", "visibility", "data.size_bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := valid(tt.kind)
			tt.change(&in)
			err := Check(&in)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Check = %v, want ErrInvalid", err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Check = %T, want *ValidationError", err)
			}
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.Field)
				if p.Problem == "" {
					t.Errorf("field %s: empty problem", p.Field)
				}
			}
			if !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %v, want %v (problems: %v)", got, tt.fields, ve.Problems)
			}
		})
	}
}

func TestImageReferences(t *testing.T) {
	good := []string{"alpine", "alpine:3.20", "library/alpine", "ghcr.io/acme/ndvi:1.2.0", "localhost:5000/a/b_c:v1",
		"registry.example.org/x@sha256:" + strings.Repeat("a", 64)}
	bad := []string{"Alpine", "alpine:", ":tag", "a b", "ghcr.io/", "x@sha256:abc", "a//b"}
	for _, s := range good {
		if !imageRe.MatchString(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range bad {
		if imageRe.MatchString(s) {
			t.Errorf("%q accepted", s)
		}
	}
}
