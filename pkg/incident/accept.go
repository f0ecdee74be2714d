package incident

import (
	"context"

	"portwatch/pkg/detector"
	"portwatch/pkg/store"
)

// Acceptor is the detector.Acceptor of accepted causes: a round whose every
// cause a rule accepts is accepted, and the rounds of incidents accepted
// since the last refit are refit on.
type Acceptor struct {
	rules   []Rule
	pending []store.Incident
}

var _ detector.Acceptor = (*Acceptor)(nil)

// NewAcceptor accepts what rules accept and asks for the rounds of pending,
// accepted incidents not yet refit on (store.Incident.RefitPending).
func NewAcceptor(rules []Rule, pending []store.Incident) *Acceptor {
	return &Acceptor{rules: rules, pending: pending}
}

// Accept marks the accepted rounds of rs and returns the pending incidents'
// rounds.
func (a *Acceptor) Accept(_ context.Context, rs []detector.Scored) ([]int64, error) {
	for i := range rs {
		cs := Causes(rs[i])
		all := len(cs) > 0
		for _, c := range cs {
			all = all && accepted(a.rules, c.Key)
		}
		rs[i].Accepted = all
	}
	var ids []int64
	for _, in := range a.pending {
		for id := in.FirstRound; id <= in.LastRound; id++ {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Pending returns the ids of the incidents whose rounds Accept asked for:
// mark them done (store.RefitDone) once the refit is saved.
func (a *Acceptor) Pending() []int64 {
	ids := make([]int64, len(a.pending))
	for i, in := range a.pending {
		ids[i] = in.ID
	}
	return ids
}
