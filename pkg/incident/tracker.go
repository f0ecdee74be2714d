package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"portwatch/pkg/detector"
	"portwatch/pkg/store"
)

// DefaultCloseAfter is how many scored rounds without its cause close an
// incident.
const DefaultCloseAfter = 10

// Event is one notification: an incident opened, changed in kind, or closed.
type Event struct {
	Event      string             `json:"event"` // opened, updated or closed
	ID         int64              `json:"id"`
	State      string             `json:"state"`
	Kind       string             `json:"kind"`
	Key        string             `json:"key"`
	Ports      []detector.Port    `json:"ports"`
	Traffic    []detector.Finding `json:"traffic,omitempty"`
	FirstRound int64              `json:"first_round_id"`
	LastRound  int64              `json:"last_round_id"`
	Score      float64            `json:"score"`
	Host       string             `json:"host,omitempty"`
}

// Detail is the incidents.detail JSON.
type Detail struct {
	Key     Key                `json:"key"`
	Ports   []detector.Port    `json:"ports"`             // the cells of the latest round with the cause
	Traffic []detector.Finding `json:"traffic,omitempty"` // or its traffic findings
}

// Tracker folds scored rounds into incidents.
type Tracker struct {
	closeAfter int
	rules      []Rule
	now        time.Time
	open       map[string]*tracked // by key
	all        []*tracked          // every incident this tracker changed, in order
	// gone holds the keys of listener_gone incidents closed while the
	// listener was still away: its return is the end of that, not news.
	gone map[string]bool
}

type tracked struct {
	in                     store.Incident
	detail                 Detail
	opened, updated, close bool
}

// NewTracker starts from the open incidents and the listener_gone ones
// closed lately (see Recent); causes rules accept open nothing; an incident
// closes after closeAfter scored rounds without its cause, and a
// listener_gone one also when its listener is back; now stamps the changes.
func NewTracker(known []store.Incident, rules []Rule, closeAfter int, now time.Time) (*Tracker, error) {
	t := &Tracker{closeAfter: closeAfter, rules: rules, now: now, open: map[string]*tracked{}, gone: map[string]bool{}}
	for _, in := range known {
		if in.State != store.IncidentOpen {
			t.gone[in.Key] = in.Kind == Gone
			continue
		}
		tr := &tracked{in: in}
		if err := json.Unmarshal([]byte(in.Detail), &tr.detail); err != nil {
			return nil, fmt.Errorf("incident %d detail: %w", in.ID, err)
		}
		t.open[in.Key] = tr
	}
	return t, nil
}

// recentGone is how long after a listener_gone incident closed its
// listener's return still counts as the end of it.
const recentGone = 24 * time.Hour

// Recent returns the incidents NewTracker needs from all stored ones: the
// open ones and the listener_gone ones closed within a day of now.
func Recent(all []store.Incident, now time.Time) []store.Incident {
	var out []store.Incident
	for _, in := range all {
		if in.State == store.IncidentOpen || (in.State == store.IncidentClosed && in.Kind == Gone && now.Sub(in.ClosedAt) < recentGone) {
			out = append(out, in)
		}
	}
	return out
}

// Observe takes the next scored round, in round order.
func (t *Tracker) Observe(s detector.Scored) {
	seen := map[string]bool{}
	for _, c := range Causes(s) {
		if accepted(t.rules, c.Key) {
			continue
		}
		key := t.resolve(c.Key)
		tr := t.open[key]
		if c.Kind == NewListener && (t.gone[key] || (tr != nil && tr.in.Kind == Gone)) {
			// The listener is back where it was: the end of its absence.
			delete(t.gone, key)
			if tr != nil {
				t.touch(tr)
				t.close(key, tr)
			}
			continue
		}
		seen[key] = true
		if tr == nil {
			tr = &tracked{opened: true, in: store.Incident{
				Key: key, Kind: c.Kind, State: store.IncidentOpen, FirstRound: s.RoundID, OpenedAt: t.now,
			}}
			t.open[key] = tr
			t.all = append(t.all, tr)
		} else {
			t.touch(tr)
			if tr.in.Rounds++; kindRank(c.Kind) < kindRank(tr.in.Kind) {
				tr.in.Kind, tr.updated = c.Kind, !tr.opened
			}
		}
		tr.in.Rounds = max(tr.in.Rounds, 1)
		tr.in.LastRound, tr.in.Absent, tr.in.UpdatedAt = s.RoundID, 0, t.now
		tr.in.Score = max(tr.in.Score, s.Score)
		if key == c.Key.String() {
			tr.detail.Key = c.Key
		}
		tr.detail.Ports, tr.detail.Traffic = c.Ports, c.Traffic
	}
	for key, tr := range t.open {
		if seen[key] {
			continue
		}
		t.touch(tr)
		if tr.in.Absent++; tr.in.Absent >= t.closeAfter {
			t.close(key, tr)
			t.gone[key] = tr.in.Kind == Gone
		}
	}
}

// resolve returns the incident key of a cause's key. A cell whose sockets
// the window no longer holds (a listener gone for longer than the window)
// names only its port: it belongs to the open incident of that port.
func (t *Tracker) resolve(k Key) string {
	if k.Process == "" && k.Address == "" && k.Port != 0 {
		for key, tr := range t.open {
			if tr.detail.Key.Protocol == k.Protocol && tr.detail.Key.Port == k.Port {
				return key
			}
		}
	}
	return k.String()
}

// close closes the open incident tr of key.
func (t *Tracker) close(key string, tr *tracked) {
	tr.in.State, tr.in.ClosedAt, tr.in.UpdatedAt, tr.close = store.IncidentClosed, t.now, t.now, true
	delete(t.open, key)
}

// touch adds an incident loaded from the store to those to save.
func (t *Tracker) touch(tr *tracked) {
	if !slices.Contains(t.all, tr) {
		t.all = append(t.all, tr)
	}
}

// kindRank orders kinds by kindOrder, the lower the more telling.
func kindRank(kind string) int { return slices.Index(kindOrder, kind) }

// Incidents returns the incidents the observed rounds opened or changed.
func (t *Tracker) Incidents() []store.Incident {
	out := make([]store.Incident, len(t.all))
	for i, tr := range t.all {
		out[i] = tr.in
	}
	return out
}

// Save stores the incidents the observed rounds opened or changed and
// returns the events to notify: one per incident opened, changed in kind or
// closed, never one per round.
func (t *Tracker) Save(ctx context.Context, db *store.DB) ([]Event, error) {
	ins := make([]store.Incident, len(t.all))
	for i, tr := range t.all {
		d, err := json.Marshal(tr.detail)
		if err != nil {
			return nil, fmt.Errorf("incident %s detail: %w", tr.in.Key, err)
		}
		tr.in.Detail = string(d)
		ins[i] = tr.in
	}
	ins, err := db.SaveIncidents(ctx, ins)
	if err != nil {
		return nil, err
	}
	var events []Event
	for i, tr := range t.all {
		tr.in.ID = ins[i].ID
		for _, e := range []struct {
			name string
			on   bool
		}{{"opened", tr.opened}, {"updated", tr.updated}, {"closed", tr.close}} {
			if e.on {
				events = append(events, Event{Event: e.name, ID: tr.in.ID, State: tr.in.State, Kind: tr.in.Kind, Key: tr.in.Key,
					Ports: tr.detail.Ports, Traffic: tr.detail.Traffic, FirstRound: tr.in.FirstRound, LastRound: tr.in.LastRound, Score: tr.in.Score})
			}
		}
	}
	return events, nil
}
