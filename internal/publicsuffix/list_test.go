package publicsuffix

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	xpublicsuffix "golang.org/x/net/publicsuffix"
)

// rules is every rule in the table, each a domain ("co.uk", "ck", "www.ck"), found by
// walking the nodes from the top-level domains down.
func rules(t *testing.T) []string {
	t.Helper()
	var out []string
	var walk func(lo, hi uint32, suffix string)
	walk = func(lo, hi uint32, suffix string) {
		for f := lo; f < hi; f++ {
			name := nodeLabel(f) + suffix
			out = append(out, name)
			u := uint32(nodes.get(f) >> (nodesBitsTextOffset + nodesBitsTextLength))
			u >>= nodesBitsICANN
			u = children.get(u & (1<<nodesBitsChildren - 1))
			clo := u & (1<<childrenBitsLo - 1)
			chi := u >> childrenBitsLo & (1<<childrenBitsHi - 1)
			walk(clo, chi, "."+name)
		}
	}
	walk(0, numTLD, "")
	if len(out) < 5000 {
		t.Fatalf("walked %d rules, want the whole list (over 5000)", len(out))
	}
	return out
}

// TestSameAsXNet: every rule, one and two labels under it, and the odd inputs give
// x/net's answers, errors included.
func TestSameAsXNet(t *testing.T) {
	names := []string{"", ".", "com", "foo.com.", ".foo.com", "foo..com", "127.0.0.1", "::1",
		"foo.cromulent", "www.ck", "a.b.ck", "city.kawasaki.jp", "a.city.kawasaki.jp",
		"foo.blogspot.com", "xn--p1ai", "example.xn--p1ai", "<Root>"}
	for _, r := range rules(t) {
		names = append(names, r, "b."+r, "a.b."+r)
	}
	for _, name := range names {
		got, gotErr := EffectiveTLDPlusOne(name)
		want, wantErr := xpublicsuffix.EffectiveTLDPlusOne(name)
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("EffectiveTLDPlusOne(%q) = %q, %v; x/net %q, %v", name, got, gotErr, want, wantErr)
		}
		gotPS, gotICANN := PublicSuffix(name)
		wantPS, wantICANN := xpublicsuffix.PublicSuffix(name)
		if gotPS != wantPS || gotICANN != wantICANN {
			t.Errorf("PublicSuffix(%q) = %q, %v; x/net %q, %v", name, gotPS, gotICANN, wantPS, wantICANN)
		}
	}
}

// TestGenerated: the committed files are what gen.go makes from the x/net in go.mod, so a
// bump of x/net without go generate fails here.
func TestGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go run gen.go")
	}
	dir := t.TempDir()
	if out, err := exec.Command("go", "run", "gen.go", "-o", dir).CombinedOutput(); err != nil {
		t.Fatalf("go run gen.go: %v\n%s", err, out)
	}
	for _, name := range []string{"list.go", "table.go", "LICENSE", "data/children", "data/nodes", "data/text"} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what gen.go makes: run go generate ./internal/publicsuffix", name)
		}
	}
}
