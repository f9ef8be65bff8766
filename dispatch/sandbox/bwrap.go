package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// defaultHome is HOME under bwrap when Spec.Env has none.
const defaultHome = "/home/agent"

// systemDirs are bound read-only when they are directories and recreated
// when they are symbolic links (as /bin -> usr/bin on merged-/usr systems).
func systemDirs() []string {
	return []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}
}

// etcFiles are the parts of /etc a program may need and that hold no
// secret: name resolution, users and groups, CA certificates, the dynamic
// linker's cache, the time zone, alternatives and the system gitconfig.
// Nothing else of /etc (ssl/private, a service's configuration and keys)
// is visible.
func etcFiles() []string {
	return []string{
		"/etc/resolv.conf", "/etc/hosts", "/etc/host.conf", "/etc/nsswitch.conf", "/etc/gai.conf",
		"/etc/services", "/etc/protocols",
		"/etc/passwd", "/etc/group",
		"/etc/ssl/certs", "/etc/ssl/openssl.cnf", "/etc/ca-certificates", "/etc/ca-certificates.conf",
		"/etc/pki/tls/certs", "/etc/pki/ca-trust/extracted",
		"/etc/alternatives",
		"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
		"/etc/localtime", "/etc/timezone",
		"/etc/gitconfig",
		"/etc/mime.types",
	}
}

// mount is one bwrap mount operation.
type mount struct {
	op  string // --ro-bind, --bind, --symlink, --tmpfs, --proc, --dev
	src string // for binds and symlinks
	dst string
}

func (m mount) args() []string {
	if m.src == "" {
		return []string{m.op, m.dst}
	}
	return []string{m.op, m.src, m.dst}
}

// depth orders mounts so that a mount inside another comes after it.
func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(filepath.Clean(p), "/")
}

// baseArgs isolate everything: all namespaces (but the network, if
// asked), no capabilities, a new session, death with the parent.
func baseArgs(network bool) []string {
	args := []string{"--unshare-all"}
	if network {
		args = append(args, "--share-net")
	}
	return append(args, "--die-with-parent", "--new-session", "--cap-drop", "ALL")
}

// systemMounts are the host's programs and libraries, read-only, and
// fresh /proc, /dev and /tmp.
func systemMounts() []mount {
	var ms []mount
	for _, p := range systemDirs() {
		fi, err := os.Lstat(p)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			if target, err := os.Readlink(p); err == nil {
				ms = append(ms, mount{op: "--symlink", src: target, dst: p})
			}
		case fi.IsDir():
			ms = append(ms, mount{op: "--ro-bind", src: p, dst: p})
		}
	}
	return append(ms, mount{op: "--proc", dst: "/proc"}, mount{op: "--dev", dst: "/dev"}, mount{op: "--tmpfs", dst: "/tmp"})
}

// bwrapArgs are the arguments of bwrap for s (without "--" and the
// command). It may set HOME in env.
func bwrapArgs(s Spec, env map[string]string) ([]string, error) {
	ms := systemMounts()
	for _, p := range etcFiles() {
		if _, err := os.Stat(p); err == nil {
			ms = append(ms, mount{op: "--ro-bind-try", src: p, dst: p})
		}
	}

	var user []mount
	writable := []string{s.Workdir}
	add := func(op, p, what string) error {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("%s path %q is not absolute", what, p)
		}
		p = filepath.Clean(p)
		if p == "/" {
			return fmt.Errorf("%s path / would expose the whole host", what)
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s path: %w", what, err)
		}
		user = append(user, mount{op: op, src: p, dst: p})
		if op == "--bind" {
			writable = append(writable, p)
		}
		return nil
	}
	for _, p := range s.ReadOnly {
		if err := add("--ro-bind", p, "read-only"); err != nil {
			return nil, err
		}
	}
	for _, p := range s.Writable {
		if err := add("--bind", p, "writable"); err != nil {
			return nil, err
		}
	}
	if err := add("--bind", s.Workdir, "workdir"); err != nil {
		return nil, err
	}

	home := env["HOME"]
	if home == "" {
		home = defaultHome
		env["HOME"] = home
	}
	if !filepath.IsAbs(home) {
		return nil, fmt.Errorf("HOME %q is not absolute", home)
	}
	if !within(home, writable) {
		ms = append(ms, mount{op: "--tmpfs", dst: filepath.Clean(home)})
	}
	ms = append(ms, user...)
	// Parents before children, so that no mount hides another; at equal
	// depth the order above holds (system, then HOME, then the caller's).
	sort.SliceStable(ms, func(i, j int) bool { return depth(ms[i].dst) < depth(ms[j].dst) })

	args := baseArgs(s.Network)
	for _, m := range ms {
		args = append(args, m.args()...)
	}
	// The root bwrap builds the rest on is a tmpfs; nothing outside the
	// mounts above is writable.
	return append(args, "--remount-ro", "/", "--chdir", s.Workdir), nil
}

// within says whether p is one of dirs or inside one.
func within(p string, dirs []string) bool {
	p = filepath.Clean(p)
	for _, d := range dirs {
		d = filepath.Clean(d)
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

func lookBwrap(path string) (string, error) {
	p, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("bwrap %q: %w", path, err)
	}
	return p, nil
}

// BwrapAvailable checks once that bwrap at path can make the sandbox Run
// makes (user, PID and network namespaces, a fresh /proc) by running
// `true` in it. Its error says why not, with bwrap's own message.
func BwrapAvailable(ctx context.Context, path string) error {
	if path == "" {
		return errors.New("no bwrap configured")
	}
	bwrap, err := lookBwrap(path)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	args := baseArgs(false)
	for _, m := range systemMounts() {
		args = append(args, m.args()...)
	}
	args = append(args, "--", "true")
	cmd := exec.CommandContext(ctx, bwrap, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if msg == "" {
			msg = "no output"
		}
		return fmt.Errorf("bwrap %s cannot make a sandbox here (are unprivileged user namespaces enabled?): %w: %s", bwrap, err, msg)
	}
	return nil
}
