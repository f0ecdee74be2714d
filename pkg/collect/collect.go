// Package collect runs portwatch's collection: one live round of port
// occupancy scans and packets, or the ingest of capture files, into the
// store. cmd/collect parses flags into Options and calls Run.
//
// A live round (Options.Pcaps empty) scans the local ports every
// ScanInterval until Round has passed, storing each (port, protocol, family,
// address, state) once, and with Packets also stores every captured frame.
// Capture files are ingested instead when Pcaps is set: one packets row per
// frame in file order, in rounds of Round of capture time (a new round starts
// at the first frame at or after the round's start + Round; a frame whose time
// goes backwards stays in the current round), source "pcap:<file name>", no
// port scan.
//
// Every round with a capture also gets its traffic summary (pkg/traffic),
// summed while its packets are stored and written at the round's end; the
// local side is the host's interfaces live, Options.Local or inferred for
// files. A capture file is tracked by content (size and SHA-256 of its first
// MiB) in the same transactions as its packets: ingesting it again resumes
// after the last committed frame, into the round a kill interrupted, and a
// file ingested to its end is skipped.
//
// Every run takes collect's lock on the database first (store.TryLock), so a
// second collect exits at once touching nothing, and marks rounds a killed run left
// running as interrupted. Cancelling the context (SIGINT, SIGTERM) ends the
// current round as interrupted and keeps what was stored.
package collect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"portwatch/pkg/capture"
	"portwatch/pkg/portscan"
	"portwatch/pkg/runerr"
	"portwatch/pkg/store"
	"portwatch/pkg/traffic"
)

// Options are one collect run's settings; cmd/collect's flags fill them.
type Options struct {
	DB           string        // database file (-d)
	Round        time.Duration // round length: wall time live, capture time for files (-r)
	Packets      bool          // capture packets during a live round (-p)
	BestEffort   bool          // without capture permission, scan only and warn
	Interface    string        // "" for capture.DefaultInterface
	Filter       string        // BPF filter
	Snaplen      int
	Promisc      bool
	ScanInterval time.Duration
	ScanMethod   string // "proc" or "bind"
	ProcRoot     string // "" for /proc
	PayloadBytes int    // keep the first N transport payload bytes; 0 keeps none
	MaxPackets   int64  // stop storing packets after N in the run; 0 for no limit
	Pcaps        []string
	Local        []netip.Prefix // this host's addresses in capture files (--local); nil: inferred per round
}

// local is the local side of capture files' traffic summaries.
func (o *Options) local() traffic.Local {
	if len(o.Local) > 0 {
		return traffic.Local{From: traffic.FromFlag, Prefixes: o.Local}
	}
	return traffic.Local{From: traffic.FromInferred}
}

// LockName names collect's run lock (store.TryLock): one collect at a time
// per database, beside detect and cleanup runs.
const LockName = "collect"

// MaxRound is the longest round: a week. Longer means nothing for a cron
// job or a capture's rounds, and seconds beyond it overflow as a Duration.
const MaxRound = 7 * 24 * time.Hour

// Scan methods for Options.ScanMethod. Netlink is the default: one walk of
// each kernel socket table instead of the several a read of /proc/net/tcp
// costs on a large hash (see portscan.NewNetlinkScanner).
const (
	ScanNetlink = "netlink"
	ScanProc    = "proc"
	ScanBind    = "bind"
)

// Validate checks the options that do not need the system.
func (o *Options) Validate() error {
	switch {
	case o.DB == "":
		return runerr.BadInputf("no database: pass -d FILE")
	case o.Round <= 0 || o.Round > MaxRound:
		return runerr.BadInputf("round length %v: pass -r with a positive number of seconds, at most %d", o.Round, int(MaxRound/time.Second))
	case o.ScanInterval <= 0:
		return runerr.BadInputf("scan interval %v: pass --scan-interval with a positive duration such as 5s", o.ScanInterval)
	case o.checkScanMethod() != nil:
		return o.checkScanMethod()
	case o.PayloadBytes < 0:
		return runerr.BadInputf("payload bytes %d: pass --payload-bytes 0 or more", o.PayloadBytes)
	case o.MaxPackets < 0:
		return runerr.BadInputf("max packets %d: pass --max-packets 0 (no limit) or more", o.MaxPackets)
	case o.Snaplen < 0 || o.Snaplen > capture.DefaultSnaplen:
		return runerr.BadInputf("snaplen %d: pass --snaplen 1 to %d (the default; 0 means it too)", o.Snaplen, capture.DefaultSnaplen)
	case len(o.Pcaps) > 0 && (o.Packets || o.Interface != "" || o.Filter != ""):
		return runerr.BadInputf("--pcap reads files: drop -p, -i and --filter, which are for live capture")
	case len(o.Local) > 0 && len(o.Pcaps) == 0:
		return runerr.BadInputf("--local names the host's side of capture files: use it with --pcap (live capture knows its interfaces)")
	}
	return nil
}

func (o *Options) checkScanMethod() error {
	if o.ScanMethod != ScanNetlink && o.ScanMethod != ScanProc && o.ScanMethod != ScanBind {
		return runerr.BadInputf("scan method %q: pass --scan netlink, proc or bind", o.ScanMethod)
	}
	return nil
}

// Scanner returns the port scanner the options select. On the live host
// (no ProcRoot) it scans every network namespace: a container's listener is
// the host's port too. A ProcRoot copy has only its own tables to read.
func (o *Options) Scanner() portscan.Scanner {
	switch {
	case o.ScanMethod == ScanBind:
		return portscan.NewBindScanner()
	case o.ProcRoot == "":
		return portscan.NewNetnsScanner("/proc", "/run/netns", o.ScanMethod == ScanNetlink)
	}
	return portscan.NewProcScanner(o.ProcRoot)
}

// missedNetns takes a scan that could not enter some network namespaces as
// good, logging once per run (seen holds those logged) the namespaces whose
// sockets it lacks. Other errors are returned as they are.
func missedNetns(err error, log *slog.Logger, seen map[uint64]bool) error {
	var ne *portscan.NotEnteredError
	if !errors.As(err, &ne) {
		return err
	}
	var names []string
	for _, m := range ne.Missed {
		if !seen[m.Inode] {
			seen[m.Inode] = true
			names = append(names, strings.TrimSpace(m.Netns.String()+" "+m.Name))
		}
	}
	if len(names) > 0 {
		log.Warn("network namespaces not scanned: collect needs CAP_SYS_ADMIN to enter them, CAP_SYS_PTRACE to read them",
			"netns", strings.Join(names, ", "), "err", err)
	}
	return nil
}

// Summary is what a run stored, logged as its one summary line.
type Summary struct {
	Rounds      int
	Interrupted int64 // rounds a killed run had left running, marked at start
	Scans       int
	Ports       int // port rows offered to the store (each stored once per round)
	Counts      store.Counts
	Resumed     int64 // frames of captures ingested in part before, not stored again
	Captures    int   // capture files skipped as ingested to their end before
}

// LogValue makes a Summary one structured log record.
func (s Summary) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("rounds", s.Rounds),
		slog.Int64("marked_interrupted", s.Interrupted),
		slog.Int("scans", s.Scans),
		slog.Int("ports", s.Ports),
		slog.Int64("frames", s.Counts.Frames),
		slog.Int64("malformed", s.Counts.Malformed),
		slog.Int64("skipped", s.Counts.Skipped),
		slog.Int64("bad_time", s.Counts.BadTime),
		slog.Int64("dropped", s.Counts.Dropped),
		slog.Int64("resumed", s.Resumed),
		slog.Int("captures_skipped", s.Captures),
	)
}

// Run is the collect program: Collect, then its summary as one log record
// (an error one when the run failed having stored some rounds).
func Run(ctx context.Context, o Options, log *slog.Logger) error {
	start := time.Now()
	sum, err := Collect(ctx, o, log)
	if err == nil || sum.Rounds > 0 {
		level := slog.LevelInfo
		if err != nil {
			level = slog.LevelError
		}
		log.Log(ctx, level, "collect run", "db", o.DB, "summary", sum, "seconds", time.Since(start).Seconds())
	}
	return err
}

// Collect takes the lock, opens the database and runs one live round or the
// file ingest. The Summary is valid, for what was stored, even with an error.
func Collect(ctx context.Context, o Options, log *slog.Logger) (Summary, error) {
	if err := o.Validate(); err != nil {
		return Summary{}, err
	}
	lock, err := store.TryLock(o.DB, LockName)
	if err != nil {
		return Summary{}, err
	}
	defer lock.Unlock()

	var src capture.Source
	if o.Packets {
		// Opened before the database so a refused capture leaves no file behind.
		if src, err = openLive(o, log); err != nil {
			return Summary{}, err
		}
		if src != nil {
			defer src.Close()
		}
	}

	// Setting up is short and leaves the database consistent whenever it
	// stops, so a signal is honoured from the first round on.
	setup := context.WithoutCancel(ctx)
	db, err := store.Open(setup, o.DB, store.WithLogger(log))
	if err != nil {
		return Summary{}, badInput(err)
	}
	defer db.Close()
	var sum Summary
	if sum.Interrupted, err = db.MarkInterrupted(setup); err != nil {
		return sum, err
	}
	w, err := db.NewWriter()
	if err != nil {
		return sum, err
	}
	if len(o.Pcaps) > 0 {
		err = ingestFiles(ctx, w, o, log, &sum)
	} else {
		err = liveRound(ctx, w, o.Scanner(), src, o, log, &sum)
	}
	return sum, joinDistinct(err, w.Close())
}

// List prints the current port occupancy once as a table, touching no
// database; network namespaces it could not enter are logged to log.
func List(ctx context.Context, o Options, out io.Writer, log *slog.Logger) error {
	if err := o.checkScanMethod(); err != nil {
		return err
	}
	socks, err := o.Scanner().Scan(ctx)
	if err = missedNetns(err, log, make(map[uint64]bool)); err != nil {
		return fmt.Errorf("scan ports: %w", err)
	}
	return portscan.WriteTable(out, socks)
}
