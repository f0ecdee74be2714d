package detectjob

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"portwatch/pkg/detector"
	"portwatch/pkg/incident"
	"portwatch/pkg/notify"
	"portwatch/pkg/store"
)

// notifyBudget bounds the whole notification phase of a run.
const notifyBudget = 5 * time.Second

// acceptor builds the detector's Acceptor from the allow list and the
// accepted causes and incidents in db.
func acceptor(ctx context.Context, db *store.DB, allow []incident.Rule) (*incident.Acceptor, []incident.Rule, error) {
	as, err := db.Accepts(ctx)
	if err != nil {
		return nil, nil, err
	}
	rules := append([]incident.Rule(nil), allow...)
	for _, a := range as {
		rules = append(rules, incident.RuleOfAccept(a))
	}
	acc, err := db.Incidents(ctx, store.IncidentAccepted)
	if err != nil {
		return nil, nil, err
	}
	var pending []store.Incident
	for _, in := range acc {
		if in.RefitPending {
			pending = append(pending, in)
		}
	}
	return incident.NewAcceptor(rules, pending), rules, nil
}

// tracked is what trackIncidents and notifyEvents did.
type tracked struct {
	incidents    []store.Incident // opened or changed by the run
	events       []incident.Event // to notify (cron run only)
	sent, failed int              // events notified, deliveries failed
}

// trackIncidents folds a run's verdicts into incidents: stored for the cron
// run (save), in memory for a range scored again.
func trackIncidents(ctx context.Context, db *store.DB, rules []incident.Rule, closeAfter int, rs []detector.Scored, save bool) (tracked, error) {
	var out tracked
	var known []store.Incident
	now := time.Now()
	if save {
		all, err := db.Incidents(ctx, store.IncidentOpen, store.IncidentClosed)
		if err != nil {
			return out, err
		}
		known = incident.Recent(all, now)
	}
	tr, err := incident.NewTracker(known, rules, closeAfter, now)
	if err != nil {
		return out, err
	}
	for _, s := range rs {
		tr.Observe(s)
	}
	out.incidents = tr.Incidents()
	if !save {
		return out, nil
	}
	out.events, err = tr.Save(ctx, db)
	return out, err
}

// notifyEvents pushes tk's events to sinks within notifyBudget; failed
// deliveries are logged and counted, not returned.
func notifyEvents(ctx context.Context, sinks []notify.Sink, tk *tracked, log *slog.Logger) {
	if len(sinks) == 0 || len(tk.events) == 0 {
		return
	}
	host := hostname()
	for i := range tk.events {
		tk.events[i].Host = host
	}
	nctx, cancel := context.WithTimeout(ctx, notifyBudget)
	defer cancel()
	n := &notify.Notifier{Sinks: sinks, Log: log}
	tk.sent, tk.failed = len(tk.events), n.Send(nctx, tk.events)
	if tk.failed > 0 {
		log.Warn("notifications failed", "failed", tk.failed, "events", tk.sent)
	}
}

// hostname names this host in incident events ("" if unknown).
func hostname() string {
	h, _ := os.Hostname()
	return h
}

// WriteIncidents prints incidents as a table, or one JSON object per line.
func WriteIncidents(w io.Writer, ins []store.Incident, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, in := range ins {
			if err := enc.Encode(incidentJSON(in)); err != nil {
				return fmt.Errorf("write json: %w", err)
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tKIND\tKEY\tROUNDS\tFIRST\tLAST\tSCORE\tOPENED (UTC)\tWHAT")
	for _, in := range ins {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%.1f\t%s\t%s\n", in.ID, in.State, in.Kind, in.Key, in.Rounds,
			in.FirstRound, in.LastRound, in.Score, in.OpenedAt.UTC().Format(time.DateTime), what(in.Detail))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// what is the text of an incident's latest traffic finding ("port scan
// from 192.168.1.10: probes to 1000 ports of 1 host"), "" for a listener's.
func what(detail string) string {
	var d incident.Detail
	if json.Unmarshal([]byte(detail), &d) != nil || len(d.Traffic) == 0 {
		return ""
	}
	return d.Traffic[0].Text
}

// incidentJSON is an incident as detect incidents --json prints it.
func incidentJSON(in store.Incident) map[string]any {
	m := map[string]any{"id": in.ID, "key": in.Key, "kind": in.Kind, "state": in.State,
		"first_round_id": in.FirstRound, "last_round_id": in.LastRound, "rounds": in.Rounds, "score": in.Score,
		"opened_at": store.FormatTime(in.OpenedAt), "updated_at": store.FormatTime(in.UpdatedAt), "detail": json.RawMessage(in.Detail)}
	if !in.ClosedAt.IsZero() {
		m["closed_at"] = store.FormatTime(in.ClosedAt)
	}
	return m
}

// writeSummary closes the incident table with one line on the run.
func writeSummary(w io.Writer, rs []detector.Scored, ins []store.Incident) error {
	var anomalous int
	for _, s := range rs {
		if s.Anomalous {
			anomalous++
		}
	}
	_, err := fmt.Fprintf(w, "%d rounds scored, %d anomalous, %d incidents touched\n", len(rs), anomalous, len(ins))
	return err
}
