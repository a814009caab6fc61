package catalog

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/opencloud/opencloud/libs/resource"
)

// Limits of the input. They keep documents small enough to list by the
// hundred and to exchange with peers, and reject what is surely a mistake.
const (
	MaxName             = 200
	MaxShortDescription = 280
	MaxDescription      = 20000
	MaxURL              = 2048
	MaxTags             = 32
	MaxTag              = 64
	MaxOwners           = 32
	MaxGroups           = 32
	MaxIdentifier       = 256 // a subject or a group name
	MaxLabel            = 200 // license, format, location, GPU model...
	MaxListItems        = 256 // command, args, env, ports, standards
	MaxArg              = 4096
	MaxAmount           = 1e12
)

var (
	tagRe      = regexp.MustCompile(`^[a-z0-9._-]{1,64}$`)
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
	countryRe  = regexp.MustCompile(`^[A-Z]{2}$`)
	envKeyRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,255}$`)
	// S3 bucket naming rules (lowercase, 3-63 characters, no leading or trailing dot or dash).
	bucketRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	// A Kubernetes-style name (DNS-1123 subdomain).
	clusterRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$`)
	refIDRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	// A container image reference as the distribution grammar defines it:
	// [registry[:port]/]path[:tag][@digest].
	imageRe = regexp.MustCompile(`^` +
		`(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]{1,5})?/)?` +
		`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*` +
		`(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?` +
		`(?:@sha256:[a-f0-9]{64})?$`)
)

// Check normalises in (trims names, upper-cases codes, drops duplicate tags,
// fills defaults) and validates it. It reports every problem at once as a
// *ValidationError wrapping ErrInvalid. It does not look at in.Version nor at
// empty owners: those depend on the operation.
func Check(in *resource.Input) error {
	normalize(in)
	v := &validator{}
	v.common(in)
	v.kind(in)
	if len(v.problems) > 0 {
		return &ValidationError{Problems: v.problems}
	}
	return nil
}

func normalize(in *resource.Input) {
	in.Name = strings.TrimSpace(in.Name)
	in.ShortDescription = strings.TrimSpace(in.ShortDescription)
	in.License = strings.TrimSpace(in.License)
	in.Logo = strings.TrimSpace(in.Logo)
	in.Tags = dedupe(in.Tags)
	in.Owners = dedupe(in.Owners)
	in.Groups = dedupe(in.Groups)
	if in.Visibility == "" {
		in.Visibility = resource.Private
	}
	if in.Pricing == nil {
		in.Pricing = &resource.Pricing{Model: resource.Free}
	}
	in.Pricing.Currency = strings.ToUpper(strings.TrimSpace(in.Pricing.Currency))
	if d := in.Data; d != nil {
		d.Location = strings.TrimSpace(d.Location)
		d.Jurisdiction = strings.ToUpper(strings.TrimSpace(d.Jurisdiction))
	}
	if s := in.Storage; s != nil {
		s.Endpoint = strings.TrimSpace(s.Endpoint)
		s.Jurisdiction = strings.ToUpper(strings.TrimSpace(s.Jurisdiction))
		if s.Encryption == "" {
			s.Encryption = resource.EncryptionNone
		}
	}
	if c := in.Compute; c != nil {
		c.Country = strings.ToUpper(strings.TrimSpace(c.Country))
		c.SecurityStandards = nilIfEmpty(c.SecurityStandards)
		c.NodeSelector = nilIfEmpty(c.NodeSelector)
	}
	if p := in.Processing; p != nil {
		p.Image = strings.TrimSpace(p.Image)
		p.Command, p.Args, p.Ports = nilIfEmpty(p.Command), nilIfEmpty(p.Args), nilIfEmpty(p.Ports)
		if len(p.Env) == 0 {
			p.Env = nil
		}
		p.Annotations = nilIfEmpty(p.Annotations)
	}
}

// nilIfEmpty makes an empty list absent, as it reads back from JSON.
func nilIfEmpty[T any](xs []T) []T {
	if len(xs) == 0 {
		return nil
	}
	return xs
}

// dedupe drops repeated values, keeping the first occurrence's position; an
// empty list becomes nil.
func dedupe(xs []string) []string {
	if len(xs) == 0 {
		return nil
	}
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

type validator struct{ problems []FieldError }

func (v *validator) add(field, format string, args ...any) {
	v.problems = append(v.problems, FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

func (v *validator) common(in *resource.Input) {
	v.text("name", in.Name, MaxName, true, false)
	v.text("short_description", in.ShortDescription, MaxShortDescription, false, false)
	v.text("description", in.Description, MaxDescription, false, true)
	v.text("license", in.License, MaxLabel, false, false)
	if in.Logo != "" {
		v.url("logo", in.Logo, "http", "https")
	}

	if len(in.Tags) > MaxTags {
		v.add("tags", "expected at most %d tags, got %d", MaxTags, len(in.Tags))
	}
	for i, t := range in.Tags {
		if !tagRe.MatchString(t) {
			v.add(fmt.Sprintf("tags[%d]", i), "expected 1 to %d characters of a-z, 0-9, '-', '_' or '.', got %q", MaxTag, clip(t))
		}
	}
	v.identifiers("owners", in.Owners, MaxOwners)

	switch in.Visibility {
	case resource.Public, resource.Partners, resource.Private:
		if len(in.Groups) > 0 {
			v.add("groups", "only allowed when visibility is %q; remove it or set visibility to %q", resource.Groups, resource.Groups)
		}
	case resource.Groups:
		if len(in.Groups) == 0 {
			v.add("groups", "required when visibility is %q: give at least one group name", resource.Groups)
		}
		v.identifiers("groups", in.Groups, MaxGroups)
	default:
		v.add("visibility", "expected one of %s, got %q", list(resource.Visibilities), clip(string(in.Visibility)))
	}
	v.pricing(in.Pricing)
}

func (v *validator) pricing(p *resource.Pricing) {
	if !slices.Contains(resource.PricingModels, p.Model) {
		v.add("pricing.model", "expected one of %s, got %q", list(resource.PricingModels), clip(string(p.Model)))
		return
	}
	if p.Amount < 0 || p.Amount > MaxAmount || math.IsNaN(p.Amount) {
		v.add("pricing.amount", "expected a number from 0 to %.0f", MaxAmount)
	}
	if p.Model == resource.Free {
		if p.Amount != 0 {
			v.add("pricing.amount", "must be 0 or absent when the model is free")
		}
		if p.Currency != "" && !currencyRe.MatchString(p.Currency) {
			v.add("pricing.currency", "expected an ISO 4217 code of 3 letters such as EUR, got %q", clip(p.Currency))
		}
	} else if !currencyRe.MatchString(p.Currency) {
		v.add("pricing.currency", "expected an ISO 4217 code of 3 letters such as EUR (required unless the model is free), got %q", clip(p.Currency))
	}
	switch {
	case p.Model == resource.Subscription && !slices.Contains(resource.Periods, p.Period):
		v.add("pricing.period", "expected one of %s for a subscription, got %q", list(resource.Periods), clip(string(p.Period)))
	case p.Model != resource.Subscription && p.Period != "":
		v.add("pricing.period", "only allowed when the model is %q; remove it", resource.Subscription)
	}
}

// kind checks that exactly the sub-object named after the kind is present, and validates it.
func (v *validator) kind(in *resource.Input) {
	present := map[resource.Kind]bool{
		resource.KindData:       in.Data != nil,
		resource.KindProcessing: in.Processing != nil,
		resource.KindStorage:    in.Storage != nil,
		resource.KindCompute:    in.Compute != nil,
		resource.KindWorkflow:   in.Workflow != nil,
	}
	if !slices.Contains(resource.Kinds, in.Kind) {
		if in.Kind == "" {
			v.add("kind", "required: one of %s", list(resource.Kinds))
		} else {
			v.add("kind", "expected one of %s, got %q", list(resource.Kinds), clip(string(in.Kind)))
		}
		return
	}
	for _, k := range resource.Kinds {
		if k != in.Kind && present[k] {
			v.add(string(k), "only allowed when kind is %q; this resource is of kind %q", k, in.Kind)
		}
	}
	if !present[in.Kind] {
		v.add(string(in.Kind), "required when kind is %q: an object with the %s fields", in.Kind, in.Kind)
		return
	}
	switch in.Kind {
	case resource.KindData:
		v.data(in.Data)
	case resource.KindProcessing:
		v.processing(in.Processing)
	case resource.KindStorage:
		v.storage(in.Storage)
	case resource.KindCompute:
		v.compute(in.Compute)
	case resource.KindWorkflow:
		if !refIDRe.MatchString(in.Workflow.WorkflowID) {
			v.add("workflow.workflow_id", "required: the workflow's id in oc-workflow (1 to 128 characters of letters, digits, '.', '_' or '-')")
		}
	}
}

func (v *validator) data(d *resource.Data) {
	v.text("data.location", d.Location, MaxURL, true, false)
	v.text("data.format", d.Format, MaxLabel, false, false)
	v.nonNegative("data.size_bytes", d.SizeBytes)
	v.jurisdiction("data.jurisdiction", d.Jurisdiction)
}

func (v *validator) processing(p *resource.Processing) {
	switch {
	case p.Image == "":
		v.add("processing.image", "required: a container image reference such as ghcr.io/acme/tool:1.0")
	case len(p.Image) > 512 || !imageRe.MatchString(p.Image):
		v.add("processing.image", "expected a container image reference such as ghcr.io/acme/tool:1.0, got %q", clip(p.Image))
	}
	v.args("processing.command", p.Command)
	v.args("processing.args", p.Args)
	if len(p.Env) > MaxListItems {
		v.add("processing.env", "expected at most %d variables, got %d", MaxListItems, len(p.Env))
	}
	keys := make([]string, 0, len(p.Env))
	for k := range p.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys) // report in a stable order
	for _, k := range keys {
		if !envKeyRe.MatchString(k) {
			v.add("processing.env", "variable name %q: expected letters, digits and '_', not starting with a digit", clip(k))
		}
		if len(p.Env[k]) > MaxArg || !utf8.ValidString(p.Env[k]) {
			v.add("processing.env."+clip(k), "expected a value of at most %d bytes", MaxArg)
		}
	}
	v.annotations(p.Annotations)
	if len(p.Ports) > MaxListItems {
		v.add("processing.ports", "expected at most %d ports, got %d", MaxListItems, len(p.Ports))
	}
	for i, port := range p.Ports {
		if port < 1 || port > 65535 {
			v.add(fmt.Sprintf("processing.ports[%d]", i), "expected a port number from 1 to 65535, got %d", port)
		} else if slices.Index(p.Ports, port) < i {
			v.add(fmt.Sprintf("processing.ports[%d]", i), "port %d is listed twice", port)
		}
	}
	v.nonNegative("processing.requests.cpu_millicores", p.Requests.CPUMillicores)
	v.nonNegative("processing.requests.memory_bytes", p.Requests.MemoryBytes)
	v.nonNegative("processing.requests.gpus", p.Requests.GPUs)
}

// reservedAnnotations are set by OpenCloud on a step's pod: a processing
// may not set them.
var reservedAnnotations = []string{"opencloud.io/node", "multicluster.admiralty.io/"}

func (v *validator) annotations(a []resource.Label) {
	if len(a) > MaxListItems {
		v.add("processing.annotations", "expected at most %d annotations, got %d", MaxListItems, len(a))
	}
	for i, l := range a {
		field := fmt.Sprintf("processing.annotations[%d]", i)
		switch {
		case !labelKeyRe.MatchString(l.Key) || len(l.Key) > 316:
			v.add(field+".key", "expected a Kubernetes annotation key ([prefix/]name, name of at most 63 letters, digits, '-', '_' or '.'), got %q", clip(l.Key))
		case slices.ContainsFunc(reservedAnnotations, func(r string) bool { return l.Key == r || (strings.HasSuffix(r, "/") && strings.HasPrefix(l.Key, r)) }):
			v.add(field+".key", "%q is set by OpenCloud itself; choose another key", clip(l.Key))
		case slices.IndexFunc(a, func(o resource.Label) bool { return o.Key == l.Key }) < i:
			v.add(field+".key", "%q is listed twice", clip(l.Key))
		}
		if len(l.Value) > MaxArg || !utf8.ValidString(l.Value) {
			v.add(field+".value", "expected a value of at most %d bytes", MaxArg)
		}
	}
}

func (v *validator) storage(s *resource.Storage) {
	if s.Endpoint == "" {
		v.add("storage.endpoint", "required: the http(s) URL of the S3 API")
	} else {
		v.url("storage.endpoint", s.Endpoint, "http", "https")
	}
	if !bucketRe.MatchString(s.Bucket) || strings.Contains(s.Bucket, "..") {
		v.add("storage.bucket", "expected an S3 bucket name: 3 to 63 characters of a-z, 0-9, '.' or '-', starting and ending with a letter or digit, got %q", clip(s.Bucket))
	}
	if s.Region != "" && !regionRe.MatchString(s.Region) {
		v.add("storage.region", "expected 1 to 64 characters of letters, digits, '-' or '_', got %q", clip(s.Region))
	}
	v.nonNegative("storage.capacity_bytes", s.CapacityBytes)
	v.jurisdiction("storage.jurisdiction", s.Jurisdiction)
	if !slices.Contains(resource.Encryptions, s.Encryption) {
		v.add("storage.encryption", "expected one of %s, got %q", list(resource.Encryptions), clip(string(s.Encryption)))
	}
}

func (v *validator) compute(c *resource.Compute) {
	if !clusterRe.MatchString(c.ClusterRef) {
		v.add("compute.cluster_ref", "required: the cluster's name in oc-datacenter (lowercase letters, digits, '.' and '-'), got %q", clip(c.ClusterRef))
	}
	if !slices.Contains(resource.Architectures, c.Architecture) {
		v.add("compute.architecture", "expected one of %s, got %q", list(resource.Architectures), clip(string(c.Architecture)))
	}
	v.nonNegative("compute.cpu_cores", c.CPUCores)
	v.nonNegative("compute.memory_bytes", c.MemoryBytes)
	v.nonNegative("compute.gpus", c.GPUs)
	v.text("compute.gpu_model", c.GPUModel, MaxLabel, false, false)
	v.text("compute.location", c.Location, MaxLabel, false, false)
	if c.Country != "" && !countryRe.MatchString(c.Country) {
		v.add("compute.country", "expected an ISO 3166-1 alpha-2 country code such as FR, got %q", clip(c.Country))
	}
	if c.CarbonIntensity < 0 || c.CarbonIntensity > 1e5 || math.IsNaN(c.CarbonIntensity) {
		v.add("compute.carbon_intensity", "expected grams of CO2-equivalent per kWh, from 0 to 100000")
	}
	if len(c.SecurityStandards) > MaxTags {
		v.add("compute.security_standards", "expected at most %d standards, got %d", MaxTags, len(c.SecurityStandards))
	}
	for i, s := range c.SecurityStandards {
		v.text(fmt.Sprintf("compute.security_standards[%d]", i), s, MaxTag, true, false)
	}
	if len(c.NodeSelector) > MaxTags {
		v.add("compute.node_selector", "expected at most %d labels, got %d", MaxTags, len(c.NodeSelector))
	}
	seen := map[string]bool{}
	for i, l := range c.NodeSelector {
		f := fmt.Sprintf("compute.node_selector[%d]", i)
		switch {
		case !labelKeyRe.MatchString(l.Key) || len(l.Key) > 316:
			v.add(f+".key", "expected a Kubernetes label key such as kubernetes.io/arch or zone (an optional DNS prefix and '/', then 1 to 63 of A-Z a-z 0-9 - _ . starting and ending alphanumeric), got %q", clip(l.Key))
		case seen[l.Key]:
			v.add(f+".key", "label %q is given twice: keep one value", clip(l.Key))
		}
		seen[l.Key] = true
		if !labelValueRe.MatchString(l.Value) {
			v.add(f+".value", "expected a Kubernetes label value: at most 63 of A-Z a-z 0-9 - _ . starting and ending alphanumeric, or empty, got %q", clip(l.Value))
		}
	}
}

// Kubernetes label syntax: an optional DNS subdomain prefix and '/', then a
// name; values are names or empty.
var (
	labelKeyRe   = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	labelValueRe = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
)

// text checks a free text: its length in characters, that it is not blank
// when required, and that it holds no control characters (newlines and tabs
// only where multiline is allowed).
func (v *validator) text(field, s string, max int, required, multiline bool) {
	switch {
	case required && strings.TrimSpace(s) == "":
		v.add(field, "required: a non-empty text of at most %d characters", max)
	case utf8.RuneCountInString(s) > max:
		v.add(field, "expected at most %d characters, got %d", max, utf8.RuneCountInString(s))
	case hasControl(s, multiline):
		v.add(field, "must not contain control characters")
	}
}

func hasControl(s string, multiline bool) bool {
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t' || r == '\r') {
			continue
		}
		if unicode.IsControl(r) || r == utf8.RuneError {
			return true
		}
	}
	return false
}

func (v *validator) url(field, s string, schemes ...string) {
	u, err := url.Parse(s)
	switch {
	case len(s) > MaxURL:
		v.add(field, "expected a URL of at most %d characters", MaxURL)
	case err != nil || !slices.Contains(schemes, u.Scheme) || u.Host == "" || u.User != nil || hasControl(s, false) || strings.ContainsAny(s, " \t"):
		v.add(field, "expected an absolute %s URL without credentials, got %q", strings.Join(schemes, " or "), clip(s))
	}
}

// identifiers checks a list of subjects or group names.
func (v *validator) identifiers(field string, xs []string, max int) {
	if len(xs) > max {
		v.add(field, "expected at most %d entries, got %d", max, len(xs))
	}
	for i, x := range xs {
		if x == "" || len(x) > MaxIdentifier || strings.ContainsFunc(x, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			v.add(fmt.Sprintf("%s[%d]", field, i), "expected 1 to %d characters without spaces, got %q", MaxIdentifier, clip(x))
		}
	}
}

func (v *validator) args(field string, xs []string) {
	if len(xs) > MaxListItems {
		v.add(field, "expected at most %d items, got %d", MaxListItems, len(xs))
	}
	for i, x := range xs {
		if len(x) > MaxArg || !utf8.ValidString(x) || strings.ContainsRune(x, 0) {
			v.add(fmt.Sprintf("%s[%d]", field, i), "expected a text of at most %d bytes without NUL", MaxArg)
		}
	}
}

func (v *validator) nonNegative(field string, n int64) {
	if n < 0 {
		v.add(field, "expected an integer >= 0, got %d", n)
	}
}

func (v *validator) jurisdiction(field, s string) {
	if s != "" && s != "EU" && !countryRe.MatchString(s) {
		v.add(field, "expected an ISO 3166-1 alpha-2 country code such as FR, or EU, got %q", clip(s))
	}
}

// clip shortens a value echoed in a message, so a huge input does not make a huge error.
func clip(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}

func list[T ~string](xs []T) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = string(x)
	}
	return strings.Join(parts, ", ")
}

// ValidTag reports whether s is a well-formed tag.
func ValidTag(s string) bool { return tagRe.MatchString(s) }
