package detector

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// tablePorts is how many contributing ports a table row names.
const tablePorts = 3

// WriteJSON writes one JSON object per scored round, one per line:
// anomalous rounds only unless all.
func WriteJSON(w io.Writer, rs []Scored, all bool) error {
	enc := json.NewEncoder(w)
	for _, r := range rs {
		if !all && !r.Anomalous {
			continue
		}
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("write json: %w", err)
		}
	}
	return nil
}

// WriteTable writes the rounds as an aligned table, anomalous rounds only
// unless all, followed by a one-line summary.
func WriteTable(w io.Writer, rs []Scored, all bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tROUND\tSCORE / THRESHOLD\t\tTOP PORTS")
	var anomalous int
	for _, r := range rs {
		if r.Anomalous {
			anomalous++
		} else if !all {
			continue
		}
		mark := ""
		if r.Anomalous {
			mark = "ANOMALY"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f / %.1f\t%s\t%s\n", r.Start.UTC().Format(time.DateTime),
			r.RoundID, r.Score, r.Threshold, mark, causesText(r))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	if _, err := fmt.Fprintf(w, "%d rounds scored, %d anomalous\n", len(rs), anomalous); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// causesText names what is behind a round's score: its traffic findings
// ("port scan from 192.168.1.10: probes to 1000 ports of 1 host") before
// its top ports, tablePorts causes at most.
func causesText(r Scored) string {
	var parts []string
	for _, f := range r.Traffic[:min(len(r.Traffic), tablePorts)] {
		t := f.Text
		if f.Listener != "" {
			t += " (listening: " + f.Listener + ")"
		}
		parts = append(parts, t)
	}
	if ports := portsText(r.Ports, tablePorts-len(parts)); ports != "" {
		parts = append(parts, ports)
	}
	return strings.Join(parts, "; ")
}

// portsText names the top ports as "4444/tcp listen 0.0.0.0 nc (new 13.8)"
// ("8080/tcp listen 0.0.0.0 nginx (container docker:0123abcd) (new 6.1)"
// for a socket outside the host's network namespace),
// once each: a socket on two channels (tcp_listen and tcp_listen_wildcard)
// is one port to a reader; the JSON keeps both cells. It names
// n ports at most.
func portsText(ps []Port, n int) string {
	parts := make([]string, 0, n)
	seen := map[string]bool{}
	for _, p := range ps {
		key := fmt.Sprintf("%d/%s %s", p.Port, p.Protocol, p.Change)
		if len(parts) >= n || seen[key] {
			continue
		}
		seen[key] = true
		s := fmt.Sprintf("%d/%s %s", p.Port, p.Protocol, p.State)
		if p.Address != "" {
			s += " " + p.Address
		}
		if p.Process != "" {
			s += " " + p.Process
		}
		if p.Container != "" {
			s += " (container " + p.Container + ")"
		}
		parts = append(parts, fmt.Sprintf("%s (%s %.1f)", s, p.Change, p.Error))
	}
	return strings.Join(parts, "; ")
}
