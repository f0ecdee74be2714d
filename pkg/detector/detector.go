// Package detector is portwatch's hourly anomaly-detection job: it scores
// complete collection rounds with the autoencoder in the model file, names
// the ports behind each anomalous round, stores the verdicts, and refits the
// model on the rounds it judged normal.
//
// A round is judged on three statistics. Two are of the model's
// reconstruction read as per-port probabilities (see score): its total
// surprise (the negative log-likelihood, the sum of per-cell cross-entropy)
// and its peak surprise (the largest single cell's). The third is its hour
// surprise (see hours): how rarely its least expected listening port listens
// at that hour of the day, from per-(channel, port, hour) counts of the
// training rounds kept in the model file: the autoencoder's lag term (portae
// v2, see lags.go) expects a listener at the minute it listened an hour or a
// day before, but a start with no precedent keeps its base rate, so a
// nightly backup daemon listening in the afternoon is caught here.
// Each statistic has a limit calibrated on windows the model was not trained
// on (see calibration), kept in the model file and updated with each run's
// normal rounds; never derived from the batch being scored. The score is the
// largest ratio of statistic to limit, so 1 is the threshold. A first
// training starts the output layer from the ports' base rates (see
// basePrior) and its lag offsets from their fit on the training windows
// (fitLags), so the autoencoder learns what time and context add.
//
// Three entry points:
//
//	d.Run(ctx, db)             the cron job: score what no run has scored, store, refit, save;
//	                           with no model file, train the first one once MinRounds exist
//	d.Score(ctx, db, from, to) score a range again, store nothing
//	d.Train(ctx, db, from, to) build the model anew from a range, calibrate, save
//
// Only rounds with an occupancy scan (rounds.scans > 0) are trained on,
// scored or counted towards MinRounds. A round ingested from a capture file
// (collect --pcap, source pcap:<file>) has packets but no socket table: to
// an occupancy model it would look as if every service had vanished. Such
// rounds are left alone, never recorded in a batch; the cron path finds its
// next rounds after the last scored one among the scanned rounds, so they
// are not considered again either.
//
// Windows go through the engine in micro-batches of Config.Batch with buffers
// reused across batches, so memory does not grow with the number of rounds.
package detector

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"portwatch/pkg/features"
	"portwatch/pkg/store"
	"portwatch/pkg/threshold"
)

// Config holds a detector's settings; DefaultConfig fills them.
type Config struct {
	ModelPath   string
	MinRounds   int     // complete rounds needed before the first model is trained
	MaxRounds   int     // rounds one cron run scores at most (0: all)
	TrainRounds int     // newest complete rounds a training uses at most
	Risk        float64 // false-alarm rate the threshold is calibrated for
	Refit       bool    // after a cron run, train on its normal rounds and save
	Batch       int     // windows per engine run
	Epochs      int     // training epochs at most (early stop may end sooner)
	EpochSize   int     // windows per epoch at most, drawn afresh each epoch (0: all)
	RefitSize   int     // normal windows a cron run's refit trains on at most (0: all)
	Seed        uint64  // training shuffles and dropout
	Top         int     // ports named per round
	// Channels are the channels of the models this detector builds where
	// no model file names them; nil: modelfile's default, or the traffic
	// channels for a database of capture rounds (see newModelFor).
	Channels []string
	// Ablation, for the quality report only, replaces the model's output
	// with a table (see Ablation); cron and the command line never set it.
	Ablation Ablation
	// ModelOnly, for the quality report only, judges rounds on the model's
	// own statistics (excess and peak surprise): no hour or phase counts
	// are kept, so the report can say what the model carries by itself.
	ModelOnly bool
	// Acceptor, when set, sees a cron run's verdicts before they are
	// stored (see Acceptor).
	Acceptor Acceptor
	// Progress, when set, is told how many of the windows at hand (a
	// training's, then a scoring pass's) are done.
	Progress func(done, total int)
	// Report, when set, is given a cron run's result as soon as its batch
	// is stored, before the refit and save that may fail: what was stored
	// is shown even then. Run returns its error.
	Report func(*Result) error
	Now    func() time.Time
}

// DefaultConfig returns the settings cron runs use, for the model at path.
func DefaultConfig(path string) Config {
	return Config{
		ModelPath:   path,
		MinRounds:   60,
		TrainRounds: 3 * 24 * 60, // three days of minute rounds
		Risk:        1e-4,
		Refit:       true,
		Batch:       8,
		Epochs:      3,
		EpochSize:   384,
		RefitSize:   24,
		Seed:        1,
		Top:         5,
		Now:         time.Now,
	}
}

// ErrNoModel reports a range run with no model file, or with one detect has
// never trained and calibrated: it never scores with an untrained model.
var ErrNoModel = errors.New("no trained model yet; run detect without a range to train one, or pass --train")

// Detector runs detection with one configuration.
type Detector struct {
	cfg Config
	log *slog.Logger
}

// New returns a detector; log receives progress lines.
func New(cfg Config, log *slog.Logger) *Detector {
	return &Detector{cfg: cfg, log: log}
}

// Run is the cron job. Without a model file it trains the first one from the
// newest complete rounds once MinRounds exist, scoring and storing those
// rounds; until then it returns a Result with Learning set and changes
// nothing. With a model it scores every complete round after the last one
// scored, stores the batch and its anomalies, hands the result to
// Config.Report, then refits on the rounds judged normal and saves the model
// (the old file kept as .prev). Rounds an earlier run stored but whose refit
// was never saved (see unlearned) join the refit.
func (d *Detector) Run(ctx context.Context, db *store.DB) (*Result, error) {
	m, err := loadModel(d.cfg.ModelPath, d.cfg.Batch)
	if errors.Is(err, fs.ErrNotExist) {
		m, err = d.newModelFor(ctx, db, nil, 0)
	}
	if err != nil {
		return nil, err
	}
	if m.cal == nil {
		return d.first(ctx, db, m)
	}
	last, err := db.LastScored(ctx)
	if err != nil {
		return nil, err
	}
	q := m.query()
	q.AfterID, q.Limit, q.Context = last, d.cfg.MaxRounds, m.window-1
	rounds, err := db.Rounds(ctx, q)
	if err != nil {
		return nil, err
	}
	ws, err := d.targets(rounds, m.window, func(r *store.Round) bool { return r.ID > last })
	if err == nil {
		err = d.lookBack(ctx, db, m, ws)
	}
	if err != nil {
		return nil, err
	}
	res := &Result{}
	if res.Rounds, err = d.score(m, ws); err != nil {
		return nil, err
	}
	judge(res.Rounds, m.cal)
	relearn, err := d.accept(ctx, db, m, res.Rounds)
	if err != nil {
		return nil, err
	}
	if err := record(ctx, db, d.cfg.Now(), m.file.Version(), m.describe(d.cfg.ModelPath), res.Rounds, nil); err != nil {
		return nil, err
	}
	if d.cfg.Report != nil {
		if err := d.cfg.Report(res); err != nil {
			return nil, err
		}
	}
	if !d.cfg.Refit {
		return res, nil
	}
	lostWs, lost, err := d.unlearned(ctx, db, m, last)
	if err != nil {
		return nil, err
	}
	for _, w := range relearn {
		res.Relearned = append(res.Relearned, w.Last().ID)
	}
	// learn takes the scored windows first, then the extra ones to train on.
	scoredWs := append(append(lostWs[:len(lostWs):len(lostWs)], ws...), relearn...)
	if res.Refit, err = d.learn(m, scoredWs, append(lost, res.Rounds...)); err != nil || !res.Refit {
		return res, err
	}
	if err := m.save(d.cfg.ModelPath); err != nil {
		return nil, err
	}
	return res, nil
}

// maxUnlearned bounds the rounds unlearned scores again: two hourly runs.
const maxUnlearned = 120

// unlearned returns the windows and verdicts of rounds up to id last that
// an earlier run scored and stored but whose refit it could not save (a
// read-only directory, a full disk, a kill): they start after the newest
// round the model file has learned. They are scored again, not stored
// again, so this run's refit learns them; the oldest maxUnlearned at most.
func (d *Detector) unlearned(ctx context.Context, db *store.DB, m *model, last int64) ([]features.Window, []Scored, error) {
	if m.trainedUntil.IsZero() {
		return nil, nil, nil
	}
	q := m.query()
	q.Since, q.Limit, q.Context = m.trainedUntil.Add(time.Microsecond), maxUnlearned, m.window-1
	rounds, err := db.Rounds(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	ws, err := d.targets(rounds, m.window, func(r *store.Round) bool { return r.Start.After(m.trainedUntil) })
	if err != nil {
		return nil, nil, err
	}
	for i, w := range ws {
		if w.Last().ID > last {
			ws = ws[:i]
			break
		}
	}
	if len(ws) == 0 {
		return nil, nil, nil
	}
	if err := d.lookBack(ctx, db, m, ws); err != nil {
		return nil, nil, err
	}
	d.log.Info("refit again", "rounds", len(ws), "reason", "scored by an earlier run whose refit was not saved")
	rs, err := d.score(m, ws)
	if err != nil {
		return nil, nil, err
	}
	judge(rs, m.cal)
	return ws, rs, nil
}

// learn updates the calibration with the scores of the rounds judged normal
// and trains m on their windows; flagged rounds never reach the model.
// Accepted rounds, and the windows of ws past rs (earlier rounds of accepted
// incidents), are trained on but leave the calibration alone: their
// statistics are of a change, not of the model's error on the usual. It
// reports whether m changed.
func (d *Detector) learn(m *model, ws []features.Window, rs []Scored) (bool, error) {
	normal := slices.Clone(ws[len(rs):])
	var sts []stats
	for i, r := range rs {
		if !r.Anomalous {
			normal = append(normal, ws[i])
		}
		if !r.Anomalous && !r.Accepted {
			sts = append(sts, r.stats)
		}
	}
	if len(normal) == 0 {
		return false, nil
	}
	// Statistics from before the refit: the model had not seen these
	// windows, so they are honest samples of its error on normal data.
	if len(sts) > 0 {
		if err := m.cal.update(sts); err != nil {
			return false, fmt.Errorf("update threshold: %w", err)
		}
	}
	if m.hours != nil {
		m.hours.add(m.layout, normal)
	}
	if m.phase != nil {
		m.phase.add(m.layout, normal)
	}
	// Looked back at by the rounds to come.
	for _, w := range normal {
		m.hist.remember(w.Last())
	}
	if m.table == nil {
		if _, _, err := d.fit(m, normal, 1, d.cfg.RefitSize, refitRate); err != nil {
			return false, err
		}
	}
	m.roundsTrained += len(normal)
	m.trainedUntil = normal[len(normal)-1].Last().Start
	d.log.Info("refit", "windows", len(normal), "total_limit", m.cal.totalLimit(), "peak_limit", m.cal.peakLimit())
	return true, nil
}

// first trains m, a model never trained by detect, when enough rounds
// exist, and records the held-out rounds with their scores and the rounds
// it trained on without one, so cron goes on from the newest.
func (d *Detector) first(ctx context.Context, db *store.DB, m *model) (*Result, error) {
	n, err := db.Count(ctx, m.query())
	if err != nil {
		return nil, err
	}
	if n < d.cfg.MinRounds {
		return &Result{Learning: &Learning{Have: n, Need: d.cfg.MinRounds}}, nil
	}
	res, err := d.build(ctx, db, m, time.Time{}, time.Time{})
	if err != nil {
		return nil, err
	}
	if _, err := d.accept(ctx, db, m, res.Rounds); err != nil {
		return nil, err
	}
	if err := record(ctx, db, d.cfg.Now(), m.file.Version(), m.describe(d.cfg.ModelPath), res.Rounds, res.TrainedOn); err != nil {
		return nil, err
	}
	return res, nil
}

// Train builds a new model from the complete rounds starting in [from, to)
// (zero times: the newest TrainRounds), calibrates and saves it, keeping any
// old file as .prev. The new model has the old one's channels and window, or
// portae's defaults when there is no file. It stores nothing in the database.
func (d *Detector) Train(ctx context.Context, db *store.DB, from, to time.Time) (*Result, error) {
	var channels []string
	var window int
	old, err := loadModel(d.cfg.ModelPath, d.cfg.Batch)
	switch {
	case err == nil:
		channels, window = old.layout.Channels(), old.window
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	m, err := d.newModelFor(ctx, db, channels, window)
	if err != nil {
		return nil, err
	}
	return d.build(ctx, db, m, from, to)
}

// newModelFor builds an untrained model of channels (nil: the default for
// db) and window. The default is modelfile's occupancy channels, or the
// traffic channels when db holds too few scanned rounds to train on and
// enough with a traffic summary (capture files ingested with collect
// --pcap): a model trained on capture rounds scores capture rounds.
func (d *Detector) newModelFor(ctx context.Context, db *store.DB, channels []string, window int) (*model, error) {
	if channels == nil {
		channels = d.cfg.Channels
	}
	if channels == nil {
		scanned, err := db.Count(ctx, store.RoundQuery{Scanned: true})
		if err != nil {
			return nil, err
		}
		captured, err := db.Count(ctx, store.RoundQuery{Captured: true})
		if err != nil {
			return nil, err
		}
		if scanned < d.cfg.MinRounds && captured >= d.cfg.MinRounds {
			channels = features.CaptureChannels()
			d.log.Info("traffic model", "reason", "the database holds capture rounds, not scanned ones",
				"scanned", scanned, "captured", captured, "channels", channels)
		}
	}
	return newModel(channels, window, d.cfg.Batch, d.cfg.Seed)
}

// Score scores the complete rounds starting in [from, to) with the model
// file and changes nothing.
func (d *Detector) Score(ctx context.Context, db *store.DB, from, to time.Time) (*Result, error) {
	m, err := loadModel(d.cfg.ModelPath, d.cfg.Batch)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && m.cal == nil) {
		return nil, fmt.Errorf("model %s: %w", d.cfg.ModelPath, ErrNoModel)
	}
	if err != nil {
		return nil, err
	}
	q := m.query()
	q.Since, q.Until, q.Context = from, to, m.window-1
	rounds, err := db.Rounds(ctx, q)
	if err != nil {
		return nil, err
	}
	ws, err := d.targets(rounds, m.window, func(r *store.Round) bool {
		return !r.Start.Before(from) && (to.IsZero() || r.Start.Before(to))
	})
	if err == nil {
		err = d.lookBack(ctx, db, m, ws)
	}
	if err != nil {
		return nil, err
	}
	scored, err := d.score(m, ws)
	if err != nil {
		return nil, err
	}
	judge(scored, m.cal)
	return &Result{Rounds: scored}, nil
}

// targets returns the windows of rounds whose target round is selected:
// the context rounds Load adds in front are only there to fill windows.
func (d *Detector) targets(rounds []store.Round, t int, selected func(*store.Round) bool) ([]features.Window, error) {
	ws, err := features.Windows(rounds, t)
	if err != nil {
		return nil, err
	}
	for i, w := range ws {
		if selected(w.Last()) {
			return ws[i:], nil
		}
	}
	return nil, nil
}

// heldOutEvery holds one window in this many out of training, for calibration.
const heldOutEvery = 5

// heldOut reports whether the window ending at round id is held out, one
// in every: by a hash of the id, not its place in the row, because a day
// of minute rounds (1440) and an hour (60) are multiples of 5, so a daily
// restart or the hourly job's minute would be held out every time or never.
func heldOut(id int64, every int) bool {
	z := uint64(id) + 0x9e3779b97f4a7c15 // splitmix64's finaliser
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return (z^z>>31)%uint64(every) == 0
}

// build trains m on the newest complete rounds in [from, to), calibrates
// its threshold on held-out windows, saves it and returns the held-out
// windows' verdicts under it and the rounds it trained on.
func (d *Detector) build(ctx context.Context, db *store.DB, m *model, from, to time.Time) (*Result, error) {
	var err error
	q := m.query()
	q.Since, q.Until = from, to
	if q.AfterID, err = db.Newest(ctx, q, d.cfg.TrainRounds); err != nil {
		return nil, err
	}
	rounds, err := db.Rounds(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(rounds) < d.cfg.MinRounds {
		return nil, fmt.Errorf("train: %d complete rounds in the range, want at least %d", len(rounds), d.cfg.MinRounds)
	}
	res, err := d.train(m, rounds)
	if err != nil {
		return nil, err
	}
	if err := m.save(d.cfg.ModelPath); err != nil {
		return nil, err
	}
	return res, nil
}

// train fits m, an untrained model, to rounds (ordered by id), starting
// from the ports' base rates, and calibrates its limits on windows held out
// of training.
// It returns the held-out windows' verdicts and the rounds trained on.
func (d *Detector) train(m *model, rounds []store.Round) (*Result, error) {
	ws, err := features.Windows(rounds, m.window)
	if err != nil {
		return nil, err
	}
	// Interleaved hold-out covers the whole period and keeps the limits
	// honest: a training window's own ports are never new to the model.
	// Half the windows when a fifth would be too few for a tail fit.
	every := heldOutEvery
	if len(ws)/every < threshold.MinSamples {
		every = 2
	}
	var train, held []features.Window
	var trainedOn []int64
	for _, w := range ws {
		if heldOut(w.Last().ID, every) {
			held = append(held, w)
		} else {
			train = append(train, w)
			trainedOn = append(trainedOn, w.Last().ID)
		}
	}
	tr := &Training{Rounds: len(rounds), Windows: len(train)}
	m.hist = newHistory(m.layout)
	for i := range rounds {
		m.hist.remember(&rounds[i])
	}
	if !d.cfg.ModelOnly {
		m.hours = countHours(m.layout, train)
		m.phase = countPhase(m.layout, train)
	}
	if d.cfg.Ablation != AblateNone {
		if m.table, err = newTable(d.cfg.Ablation, m.layout, train, m.hist); err != nil {
			return nil, err
		}
	} else {
		base := basePrior(m.layout, train)
		tr.Prior = m.setPrior(base)
		if m.file.Lagged {
			tr.Lags = m.setLags(fitLags(m.layout, train, base, m.hist))
		}
		if tr.Epochs, tr.Loss, err = d.fit(m, train, d.cfg.Epochs, d.cfg.EpochSize, trainRate); err != nil {
			return nil, err
		}
	}
	scored, err := d.score(m, held)
	if err != nil {
		return nil, err
	}
	sts := make([]stats, len(scored))
	for i, r := range scored {
		sts[i] = r.stats
	}
	if m.cal, err = calibrate(sts, d.cfg.Risk); err != nil {
		return nil, err
	}
	// A port in use in one training round has a base rate of 1/len(train).
	m.cal.PeakFloor = math.Log(float64(max(len(train), 1))) + peakMargin
	// The traffic figures do not depend on the model, so every training
	// round is an honest sample of them, not only the held-out ones.
	all := make([]stats, len(ws))
	for i, w := range ws {
		all[i].Traffic = trafficValues(w.Last().Traffic)
	}
	if m.cal.Traffic, err = calibrateTraffic(all, d.cfg.Risk/statistics); err != nil {
		return nil, err
	}
	judge(scored, m.cal)
	tr.Calibrated = len(sts)
	tr.TotalLimit, tr.TotalMethod = m.cal.totalLimit(), m.cal.Total.Method
	tr.PeakLimit, tr.PeakMethod = m.cal.peakLimit(), m.cal.Peak.Method
	tr.HourLimit = m.cal.hourLimit()
	tr.StartLimit, tr.LoadLimit = m.cal.startLimit(), m.cal.loadLimit()
	tr.GoneLimit = m.cal.goneLimit()
	m.roundsTrained = len(rounds)
	m.trainedUntil = rounds[len(rounds)-1].Start
	d.log.Info("trained", "rounds", tr.Rounds, "windows", tr.Windows, "epochs", tr.Epochs, "loss", tr.Loss,
		"calibrated_on", tr.Calibrated, "total_limit", tr.TotalLimit, "peak_limit", tr.PeakLimit, "hour_limit", tr.HourLimit,
		"start_limit", tr.StartLimit, "load_limit", tr.LoadLimit, "gone_limit", tr.GoneLimit)
	return &Result{Trained: tr, Rounds: scored, TrainedOn: trainedOn}, nil
}

// judge sets each round's score and verdict. A round past the hour limit
// names its listener at an unusual hour first: among the top cells of the
// reconstruction a service the host runs every day looks unremarkable. A
// round of a model of traffic alone is judged and told by its traffic
// findings only: its top cells stay, as context, none of them a cause.
func judge(rs []Scored, cal *calibration) {
	for i := range rs {
		r := &rs[i]
		r.Score = cal.score(r.stats, r.trafficOnly)
		r.Threshold = 1
		r.Anomalous = r.Score > 1
		if r.round != nil {
			r.Traffic = findings(cal.Traffic, r.round)
		}
		if r.trafficOnly {
			continue
		}
		r.TotalFired = ratio(r.stats.Total, cal.totalLimit()) > 1
		for j := range r.Ports {
			r.Ports[j].Over = features.Listening(r.Ports[j].Channel) && r.Ports[j].Error > cal.peakLimit()
		}
		for _, p := range []struct {
			port *Port
			over bool
		}{{r.hourPort, cal.hourRatio(r.stats) > 1}, {r.startPort, cal.startRatio(r.stats) > 1}, {r.gonePort, cal.goneRatio(r.stats) > 1}} {
			if p.port != nil && p.over {
				// First, and once: the cell may be among the top ones too.
				p.port.Over = true
				r.Ports = slices.DeleteFunc(r.Ports, func(q Port) bool { return q.Channel == p.port.Channel && q.Port == p.port.Port })
				r.Ports = append([]Port{*p.port}, r.Ports...)
			}
		}
		if cal.startRatio(r.stats) > 1 && r.startOpener != nil {
			r.Traffic = append([]Finding{r.startOpener.finding(r.Start.UTC().Minute(), r.stats.Start, cal.startLimit())}, r.Traffic...)
		}
		if cal.loadRatio(r.stats) > 1 && r.load != nil {
			r.Traffic = append([]Finding{r.load.finding(cal.loadLimit())}, r.Traffic...)
		}
	}
}

// score computes each window's last round's statistics, micro-batch by
// micro-batch, and names its top ports; judge gives the verdicts.
func (d *Detector) score(m *model, ws []features.Window) ([]Scored, error) {
	out := make([]Scored, 0, len(ws))
	b := newBatcher(m, d.cfg.Batch)
	plane := m.layout.C() * features.Ports
	rules := rulesFor(m.layout)
	for lo := 0; lo < len(ws); lo += d.cfg.Batch {
		batch := ws[lo:min(lo+d.cfg.Batch, len(ws))]
		recon, err := b.predict(batch)
		if err != nil {
			return nil, err
		}
		for i, w := range batch {
			target, rec := b.target(i), recon[i*plane:(i+1)*plane]
			st, cells := score(target, rec, features.Ports, d.cfg.Top, rules)
			s := Scored{
				RoundID: w.Last().ID,
				Start:   w.Last().Start,
				Ports:   explain(m.layout, w, cells),
			}
			var gc *Cell
			if st.Gone, gc = gone(m.layout, w, target, rec); gc != nil {
				s.gonePort = &explain(m.layout, w, []Cell{*gc})[0]
			}
			if m.hours != nil {
				var hc *hourCell
				st.Hour, hc = m.hours.surprise(m.layout, w.Last())
				if hc != nil {
					s.hourPort = explainHour(m.layout, w.Last(), hc, st.Hour)
				}
			}
			if m.phase != nil {
				var pc *phaseCell
				st.Start, pc = m.phase.start(m.layout, w)
				switch {
				case pc != nil && pc.Process != "":
					s.startOpener = pc
				case pc != nil:
					s.startPort = explainStart(m.layout, w.Last(), pc, st.Start)
				}
				s.load = m.phase.usual(w)
				st.Load = s.load.deviance()
			}
			st.Traffic = trafficValues(w.Last().Traffic)
			s.stats, s.round, s.trafficOnly = st, w.Last(), !m.layout.Occupancy()
			out = append(out, s)
		}
		d.progress(lo+len(batch), len(ws))
	}
	return out, nil
}

// minGain is the relative loss improvement below which training stops.
const minGain = 0.01

// fit trains m on ws for at most epochs epochs of shuffled micro-batches,
// each of at most size windows (0: all; a bound on the time a training
// takes however many rounds there are), stopping when an epoch improves the
// mean loss by less than minGain. It returns the epochs run and the last
// epoch's mean loss. lr is Adam's step size.
func (d *Detector) fit(m *model, ws []features.Window, epochs, size int, lr float64) (int, float64, error) {
	// Seeded by what the model has seen, so each run's refit draws anew
	// yet a rerun on the same data does the same.
	rng := rand.New(rand.NewPCG(d.cfg.Seed, uint64(m.roundsTrained)))
	if err := m.startTraining(rng.Uint64(), lr); err != nil {
		return 0, 0, err
	}
	b := newBatcher(m, d.cfg.Batch)
	order := make([]features.Window, len(ws))
	copy(order, ws)
	per := len(order)
	if size > 0 {
		per = min(per, size)
	}
	total, done := epochs*per, 0
	prev := math.Inf(1)
	var loss float64
	for e := 1; e <= epochs; e++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		epoch := order[:per]
		var sum float64
		var steps int
		for lo := 0; lo < len(epoch); lo += d.cfg.Batch {
			batch := epoch[lo:min(lo+d.cfg.Batch, len(epoch))]
			l, err := b.step(batch)
			if err != nil {
				return e, 0, err
			}
			sum += l
			steps++
			done += len(batch)
			d.progress(done, total)
		}
		loss = sum / float64(max(steps, 1))
		d.log.Debug("epoch", "epoch", e, "loss", loss)
		if prev-loss < minGain*prev {
			d.progress(total, total)
			return e, loss, nil
		}
		prev = loss
	}
	return epochs, loss, nil
}

// progress tells Config.Progress, if set, how far the work at hand is.
func (d *Detector) progress(done, total int) {
	if d.cfg.Progress != nil {
		d.cfg.Progress(done, total)
	}
}
