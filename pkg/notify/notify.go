// Package notify pushes incident events (pkg/incident) out of detect: to a
// command (sh -c CMD, the event's JSON on stdin), to the local syslog or
// journald (a datagram to /dev/log with a stable message id), and to a
// webhook (POST of the JSON, with a timeout and retries with backoff). Each
// event goes to every sink; a failure is logged and counted, never fatal,
// and the whole phase is bounded by the context.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"time"

	"portwatch/pkg/incident"
)

// Sink delivers one event.
type Sink interface {
	Send(ctx context.Context, e incident.Event, body []byte) error
}

// Notifier sends events to its sinks.
type Notifier struct {
	Sinks []Sink
	Log   *slog.Logger
}

// Send delivers each event to every sink and returns how many deliveries
// failed; failures are logged.
func (n *Notifier) Send(ctx context.Context, events []incident.Event) (failed int) {
	for _, e := range events {
		body, err := json.Marshal(e)
		if err != nil {
			n.Log.Error("notify", "incident", e.ID, "err", err)
			failed += len(n.Sinks)
			continue
		}
		for _, s := range n.Sinks {
			if err := s.Send(ctx, e, body); err != nil {
				n.Log.Error("notify", "incident", e.ID, "event", e.Event, "err", err)
				failed++
			}
		}
	}
	return failed
}

// Command runs sh -c Line once per event with its JSON on stdin.
type Command struct{ Line string }

var _ Sink = Command{}

// Send runs the command.
func (c Command) Send(ctx context.Context, _ incident.Event, body []byte) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", c.Line)
	cmd.Stdin = bytes.NewReader(append(body, '\n'))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("notify command %q: %w", c.Line, err)
	}
	return nil
}

// MsgID is the RFC 5424 MSGID of portwatch's syslog lines, for filtering.
const MsgID = "portwatch-incident"

// Syslog writes one RFC 5424 line per event as a datagram to Socket
// (normally /dev/log), facility daemon, severity warning (notice for closed).
type Syslog struct {
	Socket string
	Host   string
}

var _ Sink = Syslog{}

// Send writes the line.
func (s Syslog) Send(ctx context.Context, e incident.Event, body []byte) error {
	sev := 4 // warning
	if e.Event == "closed" {
		sev = 5 // notice
	}
	const daemon = 3
	line := fmt.Sprintf("<%d>1 %s %s detect %d %s - incident %d %s: %s %s %s",
		daemon*8+sev, time.Now().UTC().Format(time.RFC3339Nano), orNil(s.Host), os.Getpid(), MsgID, e.ID, e.Event, e.Kind, e.Key, body)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unixgram", s.Socket)
	if err != nil {
		return fmt.Errorf("syslog %s: %w", s.Socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(line)); err != nil {
		return fmt.Errorf("syslog %s: %w", s.Socket, err)
	}
	return nil
}

func orNil(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Webhook POSTs the event's JSON to URL, each try bounded by Timeout, up to
// Tries tries with doubling pauses from Backoff between them. A 2xx answer
// is success; a 4xx other than 429 is not retried.
type Webhook struct {
	URL     string
	Client  *http.Client
	Timeout time.Duration
	Tries   int
	Backoff time.Duration
}

var _ Sink = Webhook{}

// Send posts the event.
func (w Webhook) Send(ctx context.Context, _ incident.Event, body []byte) error {
	var err error
	pause := w.Backoff
	for try := 1; try <= max(w.Tries, 1); try++ {
		var retry bool
		if retry, err = w.post(ctx, body); err == nil || !retry {
			break
		}
		if try == w.Tries {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("webhook %s: %w (after %v)", w.URL, ctx.Err(), err)
		case <-time.After(pause):
		}
		pause *= 2
	}
	return err
}

func (w Webhook) post(ctx context.Context, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook %s: %w", w.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.Client.Do(req)
	if err != nil {
		return true, fmt.Errorf("webhook %s: %w", w.URL, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests,
		fmt.Errorf("webhook %s: %s", w.URL, resp.Status)
}
