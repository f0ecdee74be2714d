package detector

import "time"

// Scored is one round's verdict.
type Scored struct {
	RoundID int64     `json:"round_id"`
	Start   time.Time `json:"start_time"`
	// Score is how far the round is past its calibrated limits (see
	// calibration): Threshold is 1, and a round scoring above it is anomalous.
	Score     float64 `json:"score"`
	Threshold float64 `json:"threshold"`
	Anomalous bool    `json:"anomalous"`
	stats             // the statistics behind Score, in nats
	Ports     []Port  `json:"ports"` // the largest contributors, largest first
	hourPort  *Port   // the listener least expected at the round's hour, if any
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
	// "vanished" when it lacks what the model expected, and "unusual hour"
	// when it has a listener the host runs at other hours of the day.
	Change   string  `json:"change"`
	Observed float32 `json:"observed"`
	Expected float32 `json:"expected"`
	Address  string  `json:"address,omitempty"` // local address(es), comma-separated
	Process  string  `json:"process,omitempty"` // owning process(es), comma-separated
	// Container names the network namespaces of the sockets when any is not
	// the host's own: "docker:0123456789ab", an ip netns name or net:[inode],
	// and "host" among them when the host has the port too; empty otherwise.
	Container string `json:"container,omitempty"`
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
	Epochs     int     // epochs run (early stop may cut them)
	Loss       float64 // mean loss of the last epoch
	Calibrated int     // rounds the limits were calibrated on
	// The limits on the two statistics, in nats, and how they were fitted
	// (pot or quantile).
	TotalLimit, PeakLimit   float64
	TotalMethod, PeakMethod string
	HourLimit               float64 // the limit on the hour statistic (quantile)
}
