// Command history writes a generated host history (pkg/scenario) into a new
// portwatch database for the demo and the detect benchmark: minute rounds
// of a normal host, optionally with nc listening on 0.0.0.0:4444 in some of
// them, the last few held back as "running", as if collect had not finished
// them yet; releasing them (UPDATE rounds SET status = 'complete') plays the
// next hour of collection.
//
//	go run ./scripts/demo/history -db var/demo.db -rounds 360 -hold 60 -listener 330-336
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"net/netip"
	"os"

	"portwatch/internal/eval/scenario"
	"portwatch/pkg/sock"
	"portwatch/pkg/store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "history:", err)
		os.Exit(1)
	}
}

func run() error {
	path := flag.String("db", "", "new database `FILE` to write")
	rounds := flag.Int("rounds", 360, "minute rounds to write")
	hold := flag.Int("hold", 0, "leave the last `N` rounds running")
	listener := flag.String("listener", "", "add nc on 0.0.0.0:4444 to rounds `FROM-TO` (ids, TO excluded)")
	seed := flag.Uint64("seed", 7, "scenario seed")
	flag.Parse()
	if *path == "" {
		return fmt.Errorf("-db is required")
	}
	var from, to int64
	if *listener != "" {
		if _, err := fmt.Sscanf(*listener, "%d-%d", &from, &to); err != nil || from >= to {
			return fmt.Errorf("-listener %q: want FROM-TO round ids", *listener)
		}
	}
	days := (*rounds + 1439) / 1440
	tl, err := scenario.Generate(scenario.Config{Seed: *seed, TestDays: days})
	if err != nil {
		return err
	}
	if len(tl.Rounds) < *rounds {
		return fmt.Errorf("the scenario has %d rounds, fewer than %d", len(tl.Rounds), *rounds)
	}
	tl.Rounds = tl.Rounds[:*rounds]
	for i := range tl.Rounds {
		if r := &tl.Rounds[i]; r.ID >= from && r.ID < to {
			r.Sockets = append(r.Sockets, sock.Socket{Port: 4444, Protocol: sock.TCP, Family: 4,
				Address: netip.IPv4Unspecified(), State: sock.Listen, PID: 4242, Process: "nc"})
		}
	}
	ctx := context.Background()
	db, err := store.Open(ctx, *path)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := tl.Write(ctx, db); err != nil {
		return err
	}
	if err := db.SetStatus(ctx, int64(*rounds-*hold)+1, math.MaxInt64, store.Running); err != nil {
		return fmt.Errorf("hold rounds back: %w", err)
	}
	first, last := tl.Rounds[0].Start, tl.Rounds[len(tl.Rounds)-1].Start
	fmt.Printf("wrote %d rounds (%s to %s), %d held back as running\n", *rounds,
		first.Format("2006-01-02 15:04"), last.Format("2006-01-02 15:04"), *hold)
	return nil
}
