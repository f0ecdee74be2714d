// Package modelfiletest makes model files for tests: raw portae graphs
// with whatever metadata a case needs, consistent or not.
package modelfiletest

import (
	"testing"

	"portwatch/pkg/engine"
	"portwatch/pkg/portae"
)

// Raw returns a serialized portae v1 graph of window T and channels (nil:
// portae's default) whose metadata is exactly meta.
func Raw(t testing.TB, window int, channels []string, meta map[string]string) []byte {
	t.Helper()
	b, err := portae.Build(portae.Config{Window: window, Channels: channels})
	if err != nil {
		t.Fatal(err)
	}
	m, err := engine.Decode(b, "test")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range meta {
		m.SetMetadata(k, v)
	}
	if b, err = m.Encode(); err != nil {
		t.Fatal(err)
	}
	return b
}
