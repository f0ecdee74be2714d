package notify

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"portwatch/pkg/incident"
)

var event = incident.Event{Event: "opened", ID: 7, State: "open", Kind: incident.NewListener,
	Key: "tcp/4 0.0.0.0 port 4444 process=nc", FirstRound: 10, LastRound: 12, Score: 3.5, Host: "h1"}

func send(t *testing.T, sinks ...Sink) int {
	t.Helper()
	n := &Notifier{Sinks: sinks, Log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return n.Send(ctx, []incident.Event{event})
}

func TestCommandGetsJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "got.json")
	if failed := send(t, Command{Line: "cat > " + out}); failed != 0 {
		t.Fatalf("failed = %d, want 0", failed)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got incident.Event
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("stdin %q: %v", b, err)
	}
	if got.ID != 7 || got.Event != "opened" || got.Key != event.Key || got.Host != "h1" || got.FirstRound != 10 {
		t.Errorf("got %+v, want %+v", got, event)
	}
	if failed := send(t, Command{Line: "exit 3"}); failed != 1 {
		t.Errorf("failing command: failed = %d, want 1", failed)
	}
}

func TestSyslogDatagram(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if failed := send(t, Syslog{Socket: sock, Host: "h1"}); failed != 0 {
		t.Fatalf("failed = %d, want 0", failed)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	line := string(buf[:n])
	for _, want := range []string{"<28>1 ", " h1 detect ", " " + MsgID + " - incident 7 opened: new_listener tcp/4 0.0.0.0 port 4444"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	if failed := send(t, Syslog{Socket: filepath.Join(t.TempDir(), "none")}); failed != 1 {
		t.Errorf("no socket: failed = %d, want 1", failed)
	}
}

func TestWebhook(t *testing.T) {
	var hits atomic.Int32
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		var e incident.Event
		if r.Method != http.MethodPost || json.Unmarshal(b, &e) != nil || e.ID != 7 {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer ok.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()

	hook := func(url string) Webhook {
		return Webhook{URL: url, Client: &http.Client{}, Timeout: 200 * time.Millisecond, Tries: 3, Backoff: 10 * time.Millisecond}
	}
	tests := []struct {
		name       string
		url        string
		wantFailed int
		wantHits   int32
	}{
		{"ok", ok.URL, 0, 1},
		{"failing is retried", failing.URL, 1, 3},
		{"slow times out", slow.URL, 1, 0},
		{"down", downURL, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits.Store(0)
			if got := send(t, hook(tt.url)); got != tt.wantFailed {
				t.Errorf("failed = %d, want %d", got, tt.wantFailed)
			}
			if got := hits.Load(); got != tt.wantHits {
				t.Errorf("hits = %d, want %d", got, tt.wantHits)
			}
		})
	}
}
