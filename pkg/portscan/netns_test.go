package portscan

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"portwatch/pkg/sock"
)

func TestParseNsLink(t *testing.T) {
	tests := []struct {
		link  string
		inode uint64
		ok    bool
	}{
		{"net:[4026531840]", 4026531840, true},
		{"net:[1]", 1, true},
		{"mnt:[4026531840]", 0, false},
		{"net:[]", 0, false},
		{"net:[4026531840", 0, false},
		{"net:[-1]", 0, false},
		{"socket:[123]", 0, false},
	}
	for _, tt := range tests {
		inode, ok := parseNsLink(tt.link)
		if inode != tt.inode || ok != tt.ok {
			t.Errorf("parseNsLink(%q) = %d, %v; want %d, %v", tt.link, inode, ok, tt.inode, tt.ok)
		}
	}
}

func TestParseContainer(t *testing.T) {
	const id = "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708"
	tests := []struct {
		name, cgroup, want string
	}{
		{"docker systemd", "0::/system.slice/docker-" + id + ".scope\n", "docker:3f2a1b4c5d6e"},
		{"docker cgroupfs v1", "12:pids:/docker/" + id + "\n11:memory:/docker/" + id + "\n", "docker:3f2a1b4c5d6e"},
		{"podman", "0::/machine.slice/libpod-" + id + ".scope/container\n", "podman:3f2a1b4c5d6e"},
		{"podman conmon is no container", "0::/machine.slice/libpod-conmon-" + id + ".scope\n", ""},
		{"kubernetes containerd", "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-" + id + ".scope\n", "k8s/containerd:3f2a1b4c5d6e"},
		{"kubernetes cri-o", "0::/kubepods.slice/kubepods-pod1234.slice/crio-" + id + ".scope\n", "k8s/crio:3f2a1b4c5d6e"},
		{"kubernetes cgroupfs", "0::/kubepods/besteffort/pod1234/" + id + "\n", "k8s/3f2a1b4c5d6e"},
		{"lxc", "0::/lxc.payload.web1/init.scope\n", "lxc:web1"},
		{"systemd PrivateNetwork service", "0::/system.slice/foo.service\n", "systemd:foo.service"},
		{"a user session", "0::/user.slice/user-1000.slice/session-2.scope\n", ""},
		{"root cgroup", "0::/\n", ""},
		{"short id", "0::/system.slice/docker-3f2a.scope\n", ""},
		{"garbage", "no colons here\n:\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseContainer(strings.NewReader(tt.cgroup)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFindNamespacesFixture finds namespaces in a made-up /proc of namespace links and cgroups.
func TestFindNamespacesFixture(t *testing.T) {
	const docker = "0::/system.slice/docker-3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708.scope\n"
	type proc struct {
		link, cgroup string
	}
	tests := []struct {
		name     string
		procs    map[string]proc // by pid, or "self"
		hostFrom string
		want     []Namespace
	}{
		{
			name: "pid 1 readable",
			procs: map[string]proc{
				"self": {link: "net:[300]"}, "1": {link: "net:[100]"}, "7": {link: "net:[100]"},
				"20": {link: "net:[200]", cgroup: docker}, "21": {link: "net:[200]"}, "300": {link: "net:[300]"},
				"40": {}, // a kernel thread's or exited: no link
			},
			hostFrom: "pid 1",
			want: []Namespace{
				{Netns: sock.Netns{Inode: 100, Host: true}, PIDs: []int{1, 7}},
				{Netns: sock.Netns{Inode: 200, Name: "docker:3f2a1b4c5d6e"}, PIDs: []int{20, 21}},
				{Netns: sock.Netns{Inode: 300}, PIDs: []int{300}},
			},
		},
		{
			name:     "pid 1 unreadable: the host is ours",
			procs:    map[string]proc{"self": {link: "net:[300]"}, "5": {link: "net:[300]"}, "6": {link: "net:[400]", cgroup: "0::/\n"}},
			hostFrom: "self",
			want: []Namespace{
				{Netns: sock.Netns{Inode: 300, Host: true}, PIDs: []int{5}},
				{Netns: sock.Netns{Inode: 400}, PIDs: []int{6}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for pid, p := range tt.procs {
				dir := filepath.Join(root, pid, "ns")
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if p.link != "" {
					if err := os.Symlink(p.link, filepath.Join(dir, "net")); err != nil {
						t.Fatal(err)
					}
				}
				if p.cgroup != "" {
					if err := os.WriteFile(filepath.Join(root, pid, "cgroup"), []byte(p.cgroup), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			got, err := FindNamespaces(root, filepath.Join(root, "no-run-netns"))
			if err != nil {
				t.Fatal(err)
			}
			if got.HostFrom != tt.hostFrom || got.Self != 300 {
				t.Errorf("HostFrom, Self = %q, %d; want %q, 300", got.HostFrom, got.Self, tt.hostFrom)
			}
			if !slices.EqualFunc(got.List, tt.want, func(a, b Namespace) bool {
				return a.Netns == b.Netns && a.Mount == b.Mount && slices.Equal(a.PIDs, b.PIDs)
			}) {
				t.Errorf("got %+v\nwant %+v", got.List, tt.want)
			}
		})
	}
}

func TestNotEnteredError(t *testing.T) {
	err := error(&NotEnteredError{Missed: []NotEntered{
		{Netns: sock.Netns{Inode: 4026532178, Name: "web"}, Err: os.ErrPermission},
		{Netns: sock.Netns{Inode: 4026532300}, Err: os.ErrPermission},
	}})
	want := "could not enter 2 network namespaces (needs CAP_SYS_ADMIN): net:[4026532178] (web): permission denied; net:[4026532300]: permission denied"
	if err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}
