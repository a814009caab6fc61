// Command mkimage writes the container images of the test cluster's real node
// as `docker save` tarballs built from scratch: no registry, no base image,
// one layer holding exactly the files given. scripts/cluster.sh builds them
// once beside the cached binaries and imports them into the node's
// containerd (`ctr -n k8s.io images import`).
//
//	mkimage -out DIR -pause NAME=BIN -busybox NAME=BIN -argoexec NAME=BIN
//
// writes DIR/pause.tar, DIR/busybox.tar and DIR/argoexec.tar, each tagged
// NAME: the pod sandbox (our static pause program), a busybox for steps
// (a static busybox and a link per applet) and Argo's executor. Every
// binary must be statically linked: the images hold no C library.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// searchPath is the PATH of every image.
const searchPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// namedFile is a flag value NAME=PATH.
type namedFile struct{ name, path string }

func (n *namedFile) String() string { return n.name + "=" + n.path }

func (n *namedFile) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" || path == "" {
		return fmt.Errorf("want NAME=PATH, got %q", v)
	}
	n.name, n.path = name, path
	return nil
}

func main() {
	var out string
	var pause, busybox, argoexec namedFile
	flag.StringVar(&out, "out", "", "directory the tarballs are written to (required)")
	flag.Var(&pause, "pause", "NAME=BIN: the pod sandbox image, holding the static program BIN as /pause")
	flag.Var(&busybox, "busybox", "NAME=BIN: a busybox image, holding the static busybox BIN and its applets")
	flag.Var(&argoexec, "argoexec", "NAME=BIN: Argo's executor image, holding the static argoexec BIN")
	flag.Parse()
	if err := run(out, pause, busybox, argoexec); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(out string, pause, busybox, argoexec namedFile) error {
	if out == "" || flag.NArg() != 0 {
		return errors.New("usage: mkimage -out DIR [-pause NAME=BIN] [-busybox NAME=BIN] [-argoexec NAME=BIN]")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var images []image
	if pause.name != "" {
		images = append(images, programImage(pause, "pause.tar", "pause", "/pause"))
	}
	if busybox.name != "" {
		img, err := busyboxImage(busybox)
		if err != nil {
			return err
		}
		images = append(images, img)
	}
	if argoexec.name != "" {
		images = append(images, programImage(argoexec, "argoexec.tar", "bin/argoexec", "argoexec"))
	}
	for _, img := range images {
		file := filepath.Join(out, img.file)
		if err := img.write(file); err != nil {
			return fmt.Errorf("%s: %w", img.name, err)
		}
		fmt.Printf("mkimage: %s -> %s\n", img.name, file)
	}
	return nil
}

// programImage is an image of one program, copied to path and run as
// entrypoint.
func programImage(n namedFile, file, path, entrypoint string) image {
	return image{
		name:       n.name,
		file:       file,
		entrypoint: []string{entrypoint},
		files:      append(baseFiles(), entry{path: path, mode: 0o755, src: n.path}),
	}
}

// busyboxImage asks the busybox binary for its applets (it must run on this
// machine: the image is for this machine's node) and links each to it.
func busyboxImage(n namedFile) (image, error) {
	list, err := exec.Command(n.path, "--list-full").Output()
	if err != nil {
		return image{}, fmt.Errorf("%s --list-full: %w", n.path, err)
	}
	files := append(baseFiles(), entry{path: "bin/busybox", mode: 0o755, src: n.path})
	seen := map[string]bool{"bin/busybox": true}
	for _, applet := range strings.Fields(string(list)) {
		applet = strings.TrimPrefix(applet, "/")
		if seen[applet] {
			continue
		}
		seen[applet] = true
		files = append(files, entry{path: applet, mode: 0o777, link: "/bin/busybox"})
	}
	return image{name: n.name, file: "busybox.tar", cmd: []string{"sh"}, files: files}, nil
}

// baseFiles are in every image: the usual top directories (mount points
// among them), a writable /tmp, and root and nobody in /etc/passwd.
func baseFiles() []entry {
	files := []entry{
		{path: "tmp", mode: 0o1777, dir: true},
		{path: "root", mode: 0o700, dir: true},
		{path: "etc/passwd", mode: 0o644, body: []byte(
			"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{path: "etc/group", mode: 0o644, body: []byte("root:x:0:\nnogroup:x:65534:\n")},
	}
	for _, d := range []string{"bin", "dev", "etc", "proc", "sbin", "sys", "usr/bin", "usr/sbin", "var"} {
		files = append(files, entry{path: d, mode: 0o755, dir: true})
	}
	return files
}
