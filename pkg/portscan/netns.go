package portscan

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"portwatch/pkg/sock"
)

// Namespace is one network namespace found on the host, with the ways into it.
type Namespace struct {
	sock.Netns
	PIDs  []int  // processes in it, ascending; none for one that is only bind-mounted
	Mount string // its bind mount under /run/netns, "" if none
}

// Namespaces is every network namespace found on the host at one moment.
type Namespaces struct {
	List []Namespace // the host's first, then by inode
	// HostFrom says how the host's namespace was told: "pid 1", or "self" (this process's) when
	// pid 1's link is unreadable, as in a container or without CAP_SYS_PTRACE.
	HostFrom string
	Self     uint64 // this process's namespace, scanned without entering it
}

// FindNamespaces lists the network namespaces of every process under root (usually /proc), deduped
// by inode, and those bind-mounted under runNetns (usually /run/netns, where `ip netns add` puts
// them). Processes whose link cannot be read (exited, or not ours to read) are left out.
func FindNamespaces(root, runNetns string) (Namespaces, error) {
	ns := Namespaces{HostFrom: "pid 1"}
	self, err := readNsLink(filepath.Join(root, "self", "ns", "net"))
	if err != nil {
		return ns, fmt.Errorf("find network namespaces: %w", err)
	}
	ns.Self = self
	host, err := readNsLink(filepath.Join(root, "1", "ns", "net"))
	if err != nil {
		host, ns.HostFrom = self, "self"
	}
	pids, err := listPIDs(root)
	if err != nil {
		return ns, fmt.Errorf("find network namespaces: %w", err)
	}
	byInode := make(map[uint64]*Namespace)
	get := func(inode uint64) *Namespace {
		n, ok := byInode[inode]
		if !ok {
			n = &Namespace{Netns: sock.Netns{Inode: inode, Host: inode == host}}
			byInode[inode] = n
		}
		return n
	}
	get(host)
	for _, pid := range pids {
		inode, err := readNsLink(filepath.Join(root, strconv.Itoa(pid), "ns", "net"))
		if err != nil {
			continue // exited, a kernel thread's, or another user's
		}
		n := get(inode)
		n.PIDs = append(n.PIDs, pid)
	}
	mounts, err := os.ReadDir(runNetns)
	if err != nil && !os.IsNotExist(err) {
		return ns, fmt.Errorf("find network namespaces: %w", err)
	}
	for _, m := range mounts {
		path := filepath.Join(runNetns, m.Name())
		inode, ok := nsfsInode(path)
		if !ok {
			continue // a file `ip netns del` left behind, or not a namespace at all
		}
		n := get(inode)
		n.Mount, n.Name = path, m.Name()
	}
	for _, n := range byInode {
		if n.Name == "" && !n.Host && len(n.PIDs) > 0 {
			n.Name = readContainer(filepath.Join(root, strconv.Itoa(n.PIDs[0]), "cgroup"))
		}
		ns.List = append(ns.List, *n)
	}
	slices.SortFunc(ns.List, func(a, b Namespace) int {
		if a.Host != b.Host {
			if a.Host {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Inode, b.Inode)
	})
	return ns, nil
}

// readNsLink reads a namespace link such as root/<pid>/ns/net.
func readNsLink(path string) (uint64, error) {
	link, err := os.Readlink(path)
	if err != nil {
		return 0, err
	}
	inode, ok := parseNsLink(link)
	if !ok {
		return 0, fmt.Errorf("namespace link %s is %q, want net:[inode]", path, link)
	}
	return inode, nil
}

// parseNsLink parses a network namespace link target: net:[4026531840].
func parseNsLink(link string) (uint64, bool) {
	num, ok := strings.CutPrefix(link, "net:[")
	if !ok {
		return 0, false
	}
	num, ok = strings.CutSuffix(num, "]")
	if !ok {
		return 0, false
	}
	return parseDec([]byte(num))
}

// readContainer names the container of the process whose root/<pid>/cgroup is at path; "" if none.
func readContainer(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	return parseContainer(f)
}

// parseContainer names a container from a /proc/PID/cgroup file ("hierarchy:controllers:path" per
// line), by the runtimes' own cgroup names: docker-<id>.scope or /docker/<id> (Docker),
// libpod-<id>.scope (Podman), cri-containerd-<id>.scope and crio-<id>.scope (containerd and CRI-O,
// prefixed k8s/ under kubepods), lxc.payload.<name> (LXC), and a systemd <unit>.service (a service
// with PrivateNetwork). Ids are cut to the 12 characters `docker ps` shows.
func parseContainer(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		_, path, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		if _, path, ok = bytes.Cut(path, []byte(":")); !ok {
			continue
		}
		if name := containerOf(string(path)); name != "" {
			return name
		}
	}
	return ""
}

// containerOf names the container a cgroup path belongs to, reading its components from the leaf up.
func containerOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	prefix := ""
	if strings.Contains(path, "kubepods") {
		prefix = "k8s/"
	}
	scopes := [...]struct{ start, runtime string }{
		{"docker-", "docker"}, {"libpod-", "podman"}, {"cri-containerd-", "containerd"}, {"crio-", "crio"},
	}
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		if id, ok := strings.CutSuffix(p, ".scope"); ok {
			for _, sc := range scopes {
				if id, ok := strings.CutPrefix(id, sc.start); ok && isHexID(id) {
					return prefix + sc.runtime + ":" + id[:12]
				}
			}
		}
		if isHexID(p) && i > 0 {
			switch {
			case parts[i-1] == "docker":
				return "docker:" + p[:12]
			case prefix != "":
				return prefix + p[:12] // cgroupfs driver: kubepods/<qos>/pod<uid>/<id>
			}
		}
		if name, ok := strings.CutPrefix(p, "lxc.payload."); ok && name != "" {
			return "lxc:" + name
		}
		if strings.HasSuffix(p, ".service") {
			return "systemd:" + p
		}
	}
	return ""
}

// isHexID reports whether s looks like a container id: 64 lower-case hex digits.
func isHexID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
