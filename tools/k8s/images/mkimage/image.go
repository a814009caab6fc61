package main

import (
	"archive/tar"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"time"
)

// epoch is the time of every file and of the image itself, so that the same
// inputs give the same tarball, byte for byte.
var epoch = time.Unix(0, 0).UTC()

// entry is one file of an image's layer: a directory, a symlink, literal
// content, or a copy of a file of this machine.
type entry struct {
	path string // inside the image, without the leading slash
	mode int64
	dir  bool
	link string
	body []byte
	src  string
}

// image is a one-layer image, written in `docker save`'s format.
type image struct {
	name       string // its reference, e.g. opencloud.local/busybox:1
	file       string // the tarball's file name
	entrypoint []string
	cmd        []string
	files      []entry
}

// write writes the image's tarball to file (through a temporary file beside
// it, renamed once complete).
func (img image) write(file string) error {
	dir := filepath.Dir(file)
	layer, err := os.CreateTemp(dir, ".layer-*")
	if err != nil {
		return err
	}
	defer os.Remove(layer.Name())
	defer layer.Close()
	digest := sha256.New()
	if err := img.writeLayer(io.MultiWriter(layer, digest)); err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	layerID := hex.EncodeToString(digest.Sum(nil))
	size, err := layer.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err := layer.Seek(0, io.SeekStart); err != nil {
		return err
	}

	config, err := json.Marshal(img.config("sha256:" + layerID))
	if err != nil {
		return err
	}
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   configName,
		"RepoTags": []string{img.name},
		"Layers":   []string{layerID + "/layer.tar"},
	}})
	if err != nil {
		return err
	}

	tmp, err := os.CreateTemp(dir, ".image-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	tw := tar.NewWriter(tmp)
	if err := writeDir(tw, layerID); err != nil {
		return err
	}
	if err := writeBody(tw, layerID+"/VERSION", []byte("1.0")); err != nil {
		return err
	}
	if err := tw.WriteHeader(fileHeader(layerID+"/layer.tar", 0o644, size)); err != nil {
		return err
	}
	if _, err := io.Copy(tw, layer); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		body []byte
	}{{configName, config}, {"manifest.json", manifest}} {
		if err := writeBody(tw, f.name, f.body); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// config is the image's configuration (the OCI image config, which is
// also Docker's).
func (img image) config(diffID string) map[string]any {
	cfg := map[string]any{"Env": []string{searchPath}, "WorkingDir": "/"}
	if img.entrypoint != nil {
		cfg["Entrypoint"] = img.entrypoint
	}
	if img.cmd != nil {
		cfg["Cmd"] = img.cmd
	}
	return map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      epoch.Format(time.RFC3339),
		"config":       cfg,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		"history":      []map[string]string{{"created": epoch.Format(time.RFC3339), "created_by": "tools/k8s/images/mkimage"}},
	}
}

// writeLayer writes the layer's tar: every entry, parents first, with each
// missing parent directory added.
func (img image) writeLayer(w io.Writer) error {
	files := map[string]entry{}
	for _, f := range img.files {
		files[f.path] = f
		for d := path.Dir(f.path); d != "."; d = path.Dir(d) {
			if _, ok := files[d]; !ok {
				files[d] = entry{path: d, mode: 0o755, dir: true}
			}
		}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	tw := tar.NewWriter(w)
	for _, p := range paths {
		if err := writeEntry(tw, files[p]); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return tw.Close()
}

func writeEntry(tw *tar.Writer, f entry) error {
	switch {
	case f.dir:
		h := fileHeader(f.path+"/", f.mode, 0)
		h.Typeflag = tar.TypeDir
		return tw.WriteHeader(h)
	case f.link != "":
		h := fileHeader(f.path, f.mode, 0)
		h.Typeflag, h.Linkname = tar.TypeSymlink, f.link
		return tw.WriteHeader(h)
	case f.src == "":
		if err := tw.WriteHeader(fileHeader(f.path, f.mode, int64(len(f.body)))); err != nil {
			return err
		}
		_, err := tw.Write(f.body)
		return err
	}
	src, err := os.Open(f.src)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", f.src)
	}
	if err := checkStatic(f.src); err != nil {
		return err
	}
	if err := tw.WriteHeader(fileHeader(f.path, f.mode, st.Size())); err != nil {
		return err
	}
	_, err = io.Copy(tw, src)
	return err
}

// checkStatic refuses an ELF program that asks for a dynamic loader.
func checkStatic(file string) error {
	bin, err := elf.Open(file)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	defer bin.Close()
	for _, p := range bin.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: the image holds no C library", file)
		}
	}
	return nil
}

func writeDir(tw *tar.Writer, name string) error {
	h := fileHeader(name+"/", 0o755, 0)
	h.Typeflag = tar.TypeDir
	return tw.WriteHeader(h)
}

func writeBody(tw *tar.Writer, name string, body []byte) error {
	if err := tw.WriteHeader(fileHeader(name, 0o644, int64(len(body)))); err != nil {
		return err
	}
	_, err := tw.Write(body)
	return err
}

// fileHeader is a regular file owned by root, dated epoch.
func fileHeader(name string, mode, size int64) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     mode,
		Size:     size,
		ModTime:  epoch,
		Uname:    "root",
		Gname:    "root",
		Format:   tar.FormatPAX,
	}
}
