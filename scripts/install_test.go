package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstall runs make install's script into a temporary prefix and checks
// the binaries land there and collect holds CAP_NET_RAW, as setcap reports it.
func TestInstall(t *testing.T) {
	for _, tool := range []string{"setcap", "getcap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian: libcap2-bin)", tool)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("setcap needs root (or CAP_SETFCAP)")
	}
	// install.sh installs from bin/: build the three programs there first.
	tags, err := os.ReadFile("build-tags")
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-tags", strings.TrimSpace(string(tags)), "-o", "bin/", "./cmd/...")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		namespaces  string
		collectMode os.FileMode
		want, not   string // a capability collect must have, and one it must not
	}{
		{"0", 0o755, "cap_net_raw", "cap_sys_admin"},
		{"1", 0o750, "cap_sys_admin", ""},
	} {
		t.Run("NAMESPACES="+tc.namespaces, func(t *testing.T) {
			prefix := t.TempDir()
			install := exec.Command("bash", "install.sh", prefix)
			install.Env = append(os.Environ(), "NAMESPACES="+tc.namespaces)
			out, err := install.CombinedOutput()
			if err != nil {
				// A file system without extended attributes cannot hold capabilities.
				if strings.Contains(string(out), "setcap failed") {
					t.Skipf("setcap not possible here: %s", out)
				}
				t.Fatalf("install.sh: %v\n%s", err, out)
			}
			for _, b := range []string{"collect", "detect", "cleanup"} {
				st, err := os.Stat(filepath.Join(prefix, "bin", b))
				if err != nil {
					t.Fatalf("%s not installed: %v", b, err)
				}
				want := os.FileMode(0o755)
				if b == "collect" {
					want = tc.collectMode
				}
				if st.Mode().Perm() != want {
					t.Errorf("%s mode %v, want %v", b, st.Mode().Perm(), want)
				}
			}
			caps, err := exec.Command("getcap", filepath.Join(prefix, "bin", "collect")).CombinedOutput()
			if err != nil || !strings.Contains(string(caps), tc.want) || (tc.not != "" && strings.Contains(string(caps), tc.not)) {
				t.Errorf("getcap collect = %q (%v), want %s and not %q", caps, err, tc.want, tc.not)
			}
			caps, _ = exec.Command("getcap", filepath.Join(prefix, "bin", "detect")).CombinedOutput()
			if strings.Contains(string(caps), "cap_") {
				t.Errorf("detect got capabilities %q; only collect needs any", caps)
			}
		})
	}
}
