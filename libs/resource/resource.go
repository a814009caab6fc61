// Package resource holds the wire types of OpenCloud catalog resources: what
// oc-catalog stores and serves, what other services read through its client,
// and what partner peers exchange. Rules about them (validation, who sees
// what) live in oc-catalog, not here.
//
// A resource has common metadata and exactly one per-kind object, named after
// its kind: a resource of kind "data" carries "data": {...} and no other.
//
//	{"kind": "data", "name": "Sentinel-2 tiles", "visibility": "public",
//	 "data": {"location": "s3://tiles/2024", "format": "geotiff"}}
//
// Visibility is a word, plus the group list when the word is "groups":
//
//	{"visibility": "groups", "groups": ["lab-a", "lab-b"]}
package resource

import "time"

// Kind is what a resource is.
type Kind string

// The five kinds.
const (
	KindData       Kind = "data"
	KindProcessing Kind = "processing"
	KindStorage    Kind = "storage"
	KindCompute    Kind = "compute"
	KindWorkflow   Kind = "workflow"
)

// Kinds lists every kind, in the order documentation shows them.
var Kinds = []Kind{KindData, KindProcessing, KindStorage, KindCompute, KindWorkflow}

// Visibility says who may see a resource.
type Visibility string

const (
	// Public: every user of this peer and of any peer that asks.
	Public Visibility = "public"
	// Partners: users of this peer and of the peers it has a partnership with.
	Partners Visibility = "partners"
	// Groups: the owners and the members of at least one of Resource.Groups.
	Groups Visibility = "groups"
	// Private: the owners only.
	Private Visibility = "private"
)

// Visibilities lists every visibility, widest first.
var Visibilities = []Visibility{Public, Partners, Groups, Private}

// PricingModel says what a price is paid for.
type PricingModel string

// Pricing models.
const (
	Free         PricingModel = "free"
	PerUse       PricingModel = "per_use"      // each execution that uses the resource
	PerHour      PricingModel = "per_hour"     // each hour of use
	PerGB        PricingModel = "per_gb"       // each gigabyte stored or transferred
	Subscription PricingModel = "subscription" // a flat amount every Period
)

// PricingModels lists every pricing model.
var PricingModels = []PricingModel{Free, PerUse, PerHour, PerGB, Subscription}

// Period is the billing period of a subscription.
type Period string

// Periods.
const (
	Day   Period = "day"
	Week  Period = "week"
	Month Period = "month"
	Year  Period = "year"
)

// Periods lists every subscription period.
var Periods = []Period{Day, Week, Month, Year}

// Pricing is what using a resource costs. A free resource has model "free"
// and no amount.
type Pricing struct {
	Model PricingModel `json:"model" validate:"required" enums:"free,per_use,per_hour,per_gb,subscription" example:"per_hour"`
	// Amount per unit of Model, in Currency; >= 0.
	Amount float64 `json:"amount,omitempty" example:"0.12"`
	// Currency is an ISO 4217 code; required unless the model is free.
	Currency string `json:"currency,omitempty" example:"EUR"`
	// Period is required for a subscription and refused otherwise.
	Period Period `json:"period,omitempty" enums:"day,week,month,year"`
}

// Input is what a caller writes: the body of a create, a replace, and the
// document a merge patch applies to. The fields the catalog fills in (id,
// owning peer, creator, times) are not part of it.
type Input struct {
	Kind             Kind   `json:"kind" validate:"required" enums:"data,processing,storage,compute,workflow" example:"data"`
	Name             string `json:"name" validate:"required" example:"Sentinel-2 tiles"`
	Description      string `json:"description,omitempty"`
	ShortDescription string `json:"short_description,omitempty"`
	// Logo is an http(s) URL of an image.
	Logo string `json:"logo,omitempty" example:"https://example.org/logo.png"`
	// Owners are user subjects allowed to change the resource; default: the creator.
	Owners  []string `json:"owners,omitempty"`
	License string   `json:"license,omitempty" example:"CC-BY-4.0"`
	// Tags: at most 32, each 1-64 characters of a-z 0-9 - _ .
	Tags       []string   `json:"tags,omitempty" example:"satellite,earth-observation"`
	Visibility Visibility `json:"visibility" enums:"public,partners,groups,private" example:"public"`
	// Groups is required when Visibility is "groups", and refused otherwise.
	Groups  []string `json:"groups,omitempty"`
	Pricing *Pricing `json:"pricing,omitempty"`

	Data       *Data       `json:"data,omitempty"`
	Processing *Processing `json:"processing,omitempty"`
	Storage    *Storage    `json:"storage,omitempty"`
	Compute    *Compute    `json:"compute,omitempty"`
	Workflow   *Workflow   `json:"workflow,omitempty"`

	// Version, on a replace or a patch, is the version being changed (an
	// alternative to the If-Match header). Refused on create.
	Version int64 `json:"version,omitempty"`
}

// Resource is a catalog resource as the catalog serves it.
type Resource struct {
	ID               string     `json:"id" example:"3f1c2a9e-6a43-4d3b-9a55-1a2b3c4d5e6f"`
	Kind             Kind       `json:"kind" enums:"data,processing,storage,compute,workflow"`
	Name             string     `json:"name"`
	Description      string     `json:"description,omitempty"`
	ShortDescription string     `json:"short_description,omitempty"`
	Logo             string     `json:"logo,omitempty"`
	Owners           []string   `json:"owners"`
	License          string     `json:"license,omitempty"`
	Tags             []string   `json:"tags"`
	Visibility       Visibility `json:"visibility" enums:"public,partners,groups,private"`
	Groups           []string   `json:"groups,omitempty"`
	Pricing          Pricing    `json:"pricing"`

	Data       *Data       `json:"data,omitempty"`
	Processing *Processing `json:"processing,omitempty"`
	Storage    *Storage    `json:"storage,omitempty"`
	Compute    *Compute    `json:"compute,omitempty"`
	Workflow   *Workflow   `json:"workflow,omitempty"`

	// PeerID is the peer that owns and serves the resource.
	PeerID string `json:"peer_id" example:"local"`
	// Creator is the subject of the user who created it.
	Creator   string    `json:"creator"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version is 1 on creation and grows by one on every change; it is the ETag.
	Version int64 `json:"version" example:"1"`
}

// Input returns the writable part of r, with its version: what a client
// changes and sends back to replace r.
func (r Resource) Input() Input {
	p := r.Pricing
	return Input{
		Kind: r.Kind, Name: r.Name, Description: r.Description, ShortDescription: r.ShortDescription,
		Logo: r.Logo, Owners: r.Owners, License: r.License, Tags: r.Tags,
		Visibility: r.Visibility, Groups: r.Groups, Pricing: &p,
		Data: r.Data, Processing: r.Processing, Storage: r.Storage, Compute: r.Compute, Workflow: r.Workflow,
		Version: r.Version,
	}
}

// Data is a data set.
type Data struct {
	// Location is where the data lives: a URL (s3://, https://, ...) or a path in a storage resource.
	Location string `json:"location" validate:"required" example:"s3://tiles/2024/"`
	// Format is the media type or a short format name.
	Format    string `json:"format,omitempty" example:"geotiff"`
	SizeBytes int64  `json:"size_bytes,omitempty" minimum:"0"`
	// PersonalData says the set holds personal data (GDPR), which restricts where it may be processed.
	PersonalData bool `json:"personal_data,omitempty"`
	// Jurisdiction is an ISO 3166-1 alpha-2 country code, or "EU".
	Jurisdiction string `json:"jurisdiction,omitempty" example:"FR"`
}

// Requests are the resources a container asks for.
type Requests struct {
	CPUMillicores int64 `json:"cpu_millicores,omitempty" minimum:"0" example:"500"`
	MemoryBytes   int64 `json:"memory_bytes,omitempty" minimum:"0" example:"536870912"`
	GPUs          int64 `json:"gpus,omitempty" minimum:"0"`
}

// Processing is an algorithm packaged as a container image.
type Processing struct {
	Image    string            `json:"image" validate:"required" example:"ghcr.io/acme/ndvi:1.2.0"`
	Command  []string          `json:"command,omitempty"`
	Args     []string          `json:"args,omitempty"`
	Env      map[string]string `json:"env,omitempty"`
	Ports    []int             `json:"ports,omitempty"`
	Requests Requests          `json:"requests"`
	// Annotations are put on the pod of every step that runs it, for the
	// cluster's own tooling (the project's test cluster reads
	// opencloud.io/fail and opencloud.io/run-for on its fake nodes).
	// (A list rather than a map: annotation keys hold dots, which stored
	// documents may not have in their keys.)
	Annotations []Label `json:"annotations,omitempty"`
	// OpenSource says the image's source code is published.
	OpenSource bool `json:"open_source,omitempty"`
}

// Encryption is how a storage encrypts data at rest.
type Encryption string

// Encryptions.
const (
	EncryptionNone   Encryption = "none"
	EncryptionSSES3  Encryption = "sse-s3"
	EncryptionSSEKMS Encryption = "sse-kms"
	EncryptionSSEC   Encryption = "sse-c"
	EncryptionClient Encryption = "client-side"
)

// Encryptions lists every encryption.
var Encryptions = []Encryption{EncryptionNone, EncryptionSSES3, EncryptionSSEKMS, EncryptionSSEC, EncryptionClient}

// Storage is an S3 bucket.
type Storage struct {
	// Endpoint is the http(s) URL of the S3 API.
	Endpoint      string `json:"endpoint" validate:"required" example:"https://s3.example.org"`
	Bucket        string `json:"bucket" validate:"required" example:"shared-results"`
	Region        string `json:"region,omitempty" example:"eu-west-3"`
	CapacityBytes int64  `json:"capacity_bytes,omitempty" minimum:"0"`
	// Jurisdiction is an ISO 3166-1 alpha-2 country code, or "EU".
	Jurisdiction string `json:"jurisdiction,omitempty" example:"FR"`
	// Encryption defaults to "none".
	Encryption Encryption `json:"encryption,omitempty" enums:"none,sse-s3,sse-kms,sse-c,client-side"`
}

// Architecture is a CPU architecture, as Kubernetes names it.
type Architecture string

// Architectures.
var Architectures = []Architecture{"amd64", "arm64", "arm", "ppc64le", "s390x", "riscv64"}

// Compute is a Kubernetes cluster, or the share of one that is offered.
type Compute struct {
	// ClusterRef names the cluster in oc-datacenter.
	ClusterRef   string       `json:"cluster_ref" validate:"required" example:"edge-paris-1"`
	Architecture Architecture `json:"architecture" validate:"required" enums:"amd64,arm64,arm,ppc64le,s390x,riscv64" example:"amd64"`
	CPUCores     int64        `json:"cpu_cores,omitempty" minimum:"0"`
	MemoryBytes  int64        `json:"memory_bytes,omitempty" minimum:"0"`
	GPUs         int64        `json:"gpus,omitempty" minimum:"0"`
	GPUModel     string       `json:"gpu_model,omitempty"`
	// Location is a free description of the site ("Paris, DC2").
	Location string `json:"location,omitempty"`
	// Country is an ISO 3166-1 alpha-2 country code.
	Country string `json:"country,omitempty" example:"FR"`
	// CarbonIntensity is in grams of CO2-equivalent per kWh.
	CarbonIntensity float64 `json:"carbon_intensity,omitempty" minimum:"0" example:"56"`
	// SecurityStandards the site is certified for ("ISO27001", "SecNumCloud", "HDS").
	SecurityStandards []string `json:"security_standards,omitempty"`
	// NodeSelector are the Kubernetes node labels a step placed on this
	// compute must match (a list, since label keys hold '.' and '/').
	NodeSelector []Label `json:"node_selector,omitempty"`
}

// Label is one Kubernetes label.
type Label struct {
	Key   string `json:"key" validate:"required" example:"kubernetes.io/arch"`
	Value string `json:"value" example:"amd64"`
}

// Workflow is a ready-made workflow offered in the catalog.
type Workflow struct {
	// WorkflowID is the workflow's id in oc-workflow.
	WorkflowID string `json:"workflow_id" validate:"required" example:"6b0e3c6c-4d0a-4d21-9a43-0e4c1d7b9f10"`
}

// Page is one page of a list of resources.
type Page struct {
	Items  []Resource `json:"items"`
	Total  int64      `json:"total"`
	Limit  int        `json:"limit"`
	Offset int        `json:"offset"`
}
