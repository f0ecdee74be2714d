// Command collect stores one round of local port occupancy, and with -p the
// packets seen, in the portwatch database; or, with --pcap, ingests capture
// files. cron runs it every minute: collect -d ports.db -r 55 -p.
//
// Exit codes (package command): 0 ok; 1 error, including a round
// interrupted by SIGINT or SIGTERM (stored as interrupted); 2 bad usage or
// input (flags, a damaged, missing or non-capture file, a bad BPF filter, a
// file that is not a portwatch database); 3 another run holds the
// database's lock (nothing was touched).
package main

import (
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"portwatch/pkg/capture"
	"portwatch/pkg/collect"
	"portwatch/pkg/command"
	"portwatch/pkg/runerr"
)

func main() {
	os.Exit(command.Run(newApp(os.Stdout, os.Stderr), os.Args, os.Stderr))
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:  "collect",
		Usage: "record local port occupancy and packets into the portwatch database",
		UsageText: "collect -d DB [-r SECONDS] [-p] [options]\n" +
			"collect -d DB [-r SECONDS] [options] --pcap FILE [FILE...]\n" +
			"collect --list",
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Aliases: []string{"d"}, Usage: "database `FILE` (created mode 0600 if missing)"},
			&cli.IntFlag{Name: "round", Aliases: []string{"r"}, Value: 55, Usage: "round length in `SECONDS`, 1 to 604800 (capture time for --pcap)"},
			&cli.BoolFlag{Name: "packets", Aliases: []string{"p"}, Usage: "capture packets during the round (needs CAP_NET_RAW)"},
			&cli.StringFlag{Name: "interface", Aliases: []string{"i"}, Usage: "capture `IFACE` (default: first up non-loopback)"},
			&cli.StringFlag{Name: "filter", Usage: "BPF `FILTER` for the capture"},
			&cli.DurationFlag{Name: "scan-interval", Value: 5 * time.Second, Usage: "time between port scans"},
			&cli.StringFlag{Name: "scan", Value: collect.ScanNetlink, Usage: "scan `METHOD`: netlink (sock_diag), proc (/proc/net files) or bind (binds every port: slow, no state or owner)"},
			&cli.IntFlag{Name: "payload-bytes", Usage: "store the first `N` transport payload bytes (personal data: none by default)"},
			&cli.Int64Flag{Name: "max-packets", Usage: "store at most `N` packets in the run (0: no limit)"},
			&cli.StringSliceFlag{Name: "pcap", Usage: "ingest capture `FILE` (pcap or pcapng; more files may follow, before or after other flags) instead of a live round"},
			&cli.StringSliceFlag{Name: "local", Usage: "with --pcap: this host's addresses, as `CIDR` prefixes or addresses (default: inferred per round)"},
			&cli.BoolFlag{Name: "list", Usage: "print the current port occupancy of every network namespace as a table and exit; no database"},
			&cli.IntFlag{Name: "snaplen", Value: capture.DefaultSnaplen, Usage: "capture at most `N` bytes per frame"},
			&cli.BoolFlag{Name: "promisc", Usage: "capture in promiscuous mode"},
			&cli.BoolFlag{Name: "best-effort", Usage: "without capture permission, scan ports only and warn instead of failing"},
			command.LogFormatFlag(),
		},
		Action: func(c *cli.Context) error { return action(c, stdout, stderr) },
	}
}

func action(c *cli.Context, stdout, stderr io.Writer) error {
	log, err := command.Logger(c, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Seconds past collect.MaxRound would overflow the Duration.
	round := c.Int("round")
	if round <= 0 || round > int(collect.MaxRound/time.Second) {
		return runerr.BadInputf("round length %d s: pass -r with a positive number of seconds, at most %d", round, int(collect.MaxRound/time.Second))
	}
	o := collect.Options{
		DB:           c.String("db"),
		Round:        time.Duration(round) * time.Second,
		Packets:      c.Bool("packets"),
		BestEffort:   c.Bool("best-effort"),
		Interface:    c.String("interface"),
		Filter:       c.String("filter"),
		Snaplen:      c.Int("snaplen"),
		Promisc:      c.Bool("promisc"),
		ScanInterval: c.Duration("scan-interval"),
		ScanMethod:   c.String("scan"),
		PayloadBytes: c.Int("payload-bytes"),
		MaxPackets:   c.Int64("max-packets"),
		Pcaps:        c.StringSlice("pcap"),
	}
	if o.Local, err = collect.ParseLocal(c.StringSlice("local")); err != nil {
		return err
	}
	if c.Bool("list") {
		if c.Args().Present() {
			return runerr.BadInputf("unexpected argument %q: --list takes none", c.Args().First())
		}
		return collect.List(ctx, o, stdout, log)
	}
	if c.Args().Present() {
		if len(o.Pcaps) == 0 {
			return runerr.BadInputf("unexpected argument %q: capture files go after --pcap", c.Args().First())
		}
		o.Pcaps = append(o.Pcaps, c.Args().Slice()...)
	}
	return collect.Run(ctx, o, log)
}
