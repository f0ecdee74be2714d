package detector

import (
	"time"

	"portwatch/pkg/store"
)

// Scored is one round's verdict.
type Scored struct {
	RoundID int64     `json:"round_id"`
	Start   time.Time `json:"start_time"`
	// Score is how far the round is past its calibrated limits (see
	// calibration): Threshold is 1, and a round scoring above it is anomalous.
	Score     float64 `json:"score"`
	Threshold float64 `json:"threshold"`
	Anomalous bool    `json:"anomalous"`
	// TotalFired is set when the total statistic passed its limit: many
	// ports changed at once (port exhaustion), not one listener.
	TotalFired bool `json:"total_fired,omitempty"`
	// Accepted is set on a round past the threshold whose every cause the
	// owner accepted (see Acceptor): it is stored and refit on as normal,
	// so Anomalous is false.
	Accepted bool   `json:"accepted,omitempty"`
	stats           // the statistics behind Score, in nats
	Ports    []Port `json:"ports"` // the largest contributors, largest first
	// Traffic tells the traffic statistics past their limits, the
	// furthest first: a port scan, a flood, a DNS tunnel.
	Traffic   []Finding `json:"traffic,omitempty"`
	hourPort  *Port     // the listener least expected at the round's hour, if any
	startPort *Port     // the listener least expected to start at the round's minute, if any
	gonePort  *Port     // the listener whose absence costs the most (see gone), if any
	// startOpener is the process least expected to open connections at
	// the round's minute, when it costs more than any listener's start.
	startOpener *phaseCell
	load        *usualLoad   // the round's client connections beside the usual, with a phase model
	round       *store.Round // the round scored, for its traffic summary and sockets
	// trafficOnly is set on a round scored by a model of traffic alone (no
	// occupancy channel): it is judged on its traffic statistics only.
	trafficOnly bool
}

// Port is one port's contribution to a round's score: a cell of the
// reconstruction error, named the way a person reads ss output.
type Port struct {
	Port     int     `json:"port"`
	Protocol string  `json:"protocol"`
	State    string  `json:"state"`
	Error    float64 `json:"error"`   // nats of the score
	Channel  string  `json:"channel"` // the model channel the error is on
	// Change is "new" when the round has what the model did not expect,
	// "vanished" when it lacks what the model expected, "unusual hour"
	// when it has a listener the host runs at other hours of the day, and
	// "unusual minute" when a listener starts at a minute of the hour it
	// does not start at (Expected is then the start's lift, see phase).
	Change   string  `json:"change"`
	Observed float32 `json:"observed"`
	Expected float32 `json:"expected"`
	Address  string  `json:"address,omitempty"` // local address(es), comma-separated
	Process  string  `json:"process,omitempty"` // owning process(es), comma-separated
	// Container names the network namespaces of the sockets when any is not
	// the host's own: "docker:0123456789ab", an ip netns name or net:[inode],
	// and "host" among them when the host has the port too; empty otherwise.
	Container string `json:"container,omitempty"`
	Family    string `json:"family,omitempty"` // address family(ies), "4", "6" or "4,6"
	Netns     string `json:"netns,omitempty"`  // network namespace(s): "host", a name, or net:[inode]; "" when unknown
	// Over is set when the cell alone passes its limit (a listener past the
	// peak's, or the hour's for an unusual hour): a cause, not a bystander
	// of the top list. A client port is never over alone (see channelRule).
	Over bool `json:"over,omitempty"`
}

// Result is what a run did.
type Result struct {
	// Learning is set when no model exists yet and too few rounds do: the
	// run stored nothing and scored nothing.
	Learning *Learning `json:"learning,omitempty"`
	Trained  *Training `json:"trained,omitempty"`
	Rounds   []Scored  `json:"rounds"`
	// TrainedOn lists the rounds a first training learned from and did not
	// score (their scores would be optimistic); they are recorded unscored.
	TrainedOn []int64 `json:"trained_on,omitempty"`
	Refit     bool    `json:"refit"` // the model was updated and saved after scoring
	// Relearned lists the Acceptor's earlier rounds the refit trained on.
	Relearned []int64 `json:"relearned,omitempty"`
}

// Learning says how far a new installation is from its first model.
type Learning struct {
	Have, Need int
}

// Training summarises a (re)build of the model.
type Training struct {
	Rounds     int     // complete rounds trained on
	Windows    int     // training windows
	Prior      bool    // the output layer started from the ports' base rates
	Lags       bool    // the lag term (portae v2) started from its fit on the training windows
	Epochs     int     // epochs run (early stop may cut them)
	Loss       float64 // mean loss of the last epoch
	Calibrated int     // rounds the limits were calibrated on
	// The limits on the two statistics, in nats, and how they were fitted
	// (pot or quantile).
	TotalLimit, PeakLimit   float64
	TotalMethod, PeakMethod string
	HourLimit               float64 // the limit on the hour statistic (quantile)
	StartLimit, LoadLimit   float64 // the limits on the phase statistics
	GoneLimit               float64 // the limit on a listener missing (see gone)
}
