package workflow

import (
	"fmt"
	"path"
	"strings"
	"unicode"
)

// Storage paths. A storage link joins a path in a processing's container to
// a path in a bucket, and what each one ends with says what it is:
//
//   - A bucket path ending in "/" is a prefix; any other is the exact key of
//     one object. Bucket paths are relative to the bucket: no leading "/",
//     no empty, "." or ".." segment.
//   - A container path is absolute. Ending in "/" it names a directory whose
//     contents are meant; otherwise it names one file, or a directory taken
//     as a whole.
//
// A storage_write link stores Source (container) at Destination (bucket):
//
//	/out/ndvi.tif → results/ndvi.tif   the object results/ndvi.tif
//	/out/ndvi.tif → results/           the object results/ndvi.tif (the file keeps its name)
//	/out/tiles    → results/           a directory keeps its name too: results/tiles/<its files>
//	/out/tiles/   → results/           the directory's contents: results/<its files>
//	/out/tiles/   → results/x          refused: a directory is many objects, it needs a prefix
//
// A storage_read link fetches Source (bucket) into Destination (container):
//
//	results/ndvi.tif → /in/ndvi.tif    the one object, as the file /in/ndvi.tif
//	results/ndvi.tif → /in/            the one object, as /in/ndvi.tif (it keeps its name)
//	results/         → /in/results/    every object under results/, as the files of /in/results
//	                                   (results/a/b.tif is /in/results/a/b.tif); "/in/results"
//	                                   without the "/" is the same directory
//
// Objects are stored as the files themselves, never archived, and a file is
// read back as it was written. A directory is written one object per file
// (empty directories and symbolic links are not stored).

// IsPrefix reports whether bucket path p is a prefix (it ends in "/").
func IsPrefix(p string) bool { return strings.HasSuffix(p, "/") }

// IsDirectory reports whether container path p names a directory's
// contents (it ends in "/", and is not the root).
func IsDirectory(p string) bool { return len(p) > 1 && strings.HasSuffix(p, "/") }

// BucketPathProblem says why p cannot be a bucket key or prefix, and what to
// change; "" when it can.
func BucketPathProblem(p string) string {
	switch {
	case p == "":
		return "is empty: give a key (results/ndvi.tif) or a prefix ending in / (results/)"
	case strings.HasPrefix(p, "/"):
		return fmt.Sprintf("starts with /, but keys are relative to the bucket: remove the leading / (%q)", strings.TrimLeft(p, "/"))
	}
	if why := textProblem(p); why != "" {
		return why
	}
	for _, seg := range strings.Split(strings.TrimSuffix(p, "/"), "/") {
		switch seg {
		case "":
			return "has an empty segment (//): write each / once"
		case ".", "..":
			return fmt.Sprintf("has a %q segment, which S3 keeps literally (the key is not the path it looks like): name the key without it", seg)
		}
	}
	return ""
}

// ContainerPathProblem says why p cannot be a path in a container, and what
// to change; "" when it can.
func ContainerPathProblem(p string) string {
	switch {
	case p == "":
		return "is empty: give an absolute path in the container (/out/result.tif, or /out/ for a directory's contents)"
	case !strings.HasPrefix(p, "/"):
		return "is not an absolute path in the container: start it with /"
	case p == "/":
		return "is the container's root: name a directory or file under it"
	}
	if why := textProblem(p); why != "" {
		return why
	}
	if trimmed := strings.TrimSuffix(p, "/"); path.Clean(trimmed) != trimmed {
		clean := path.Clean(p)
		if IsDirectory(p) && clean != "/" {
			clean += "/"
		}
		return fmt.Sprintf("is not a clean path (no \"..\", \".\" or \"//\"): use %q", clean)
	}
	return ""
}

func textProblem(p string) string {
	if strings.Contains(p, "{{") {
		return "contains \"{{\", which Argo reads as one of its expressions: remove it"
	}
	for _, r := range p {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return "contains control characters or invalid UTF-8: remove them"
		}
	}
	return ""
}

// Transfer is what one storage link moves, as Argo is asked to: the path
// in the container, and the key in the bucket. Prefix says the key stands
// for every object under Key + "/" (a directory in the container); it is
// given without its trailing "/", as Argo lists "<key>/" itself.
type Transfer struct {
	Path   string
	Key    string
	Prefix bool
}

// WriteTransfer is what a storage_write link from source (container) to
// destination (bucket) stores, or why it cannot (mismatch non-empty). Both
// paths must be valid (ContainerPathProblem, BucketPathProblem).
func WriteTransfer(source, destination string) (t Transfer, mismatch string) {
	t.Path = strings.TrimSuffix(source, "/")
	switch {
	case IsDirectory(source) && !IsPrefix(destination):
		return Transfer{}, fmt.Sprintf("writes the contents of directory %s, one object per file, but %q is a single key: end the destination with / (%q) to store them under it",
			source, destination, destination+"/")
	case IsDirectory(source):
		t.Key, t.Prefix = strings.TrimSuffix(destination, "/"), true
	case IsPrefix(destination):
		t.Key = destination + path.Base(source)
	default:
		t.Key = destination
	}
	if len(t.Key) > MaxPathLength {
		return Transfer{}, fmt.Sprintf("stores at key %.40q…, %d bytes, more than the %d an S3 key may have: shorten the destination", t.Key, len(t.Key), MaxPathLength)
	}
	return t, ""
}

// ReadTransfer is what a storage_read link from source (bucket) to
// destination (container) fetches. Both paths must be valid.
func ReadTransfer(source, destination string) Transfer {
	switch {
	case IsPrefix(source):
		return Transfer{Path: strings.TrimSuffix(destination, "/"), Key: strings.TrimSuffix(source, "/"), Prefix: true}
	case IsDirectory(destination):
		return Transfer{Path: destination + path.Base(source), Key: source}
	default:
		return Transfer{Path: destination, Key: source}
	}
}

// Within reports whether container path a is b or lies under it.
func Within(a, b string) bool {
	return a == b || strings.HasPrefix(a, strings.TrimSuffix(b, "/")+"/")
}
