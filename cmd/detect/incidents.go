package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"portwatch/pkg/detectjob"
	"portwatch/pkg/incident"
	"portwatch/pkg/notify"
	"portwatch/pkg/runerr"
	"portwatch/pkg/store"
)

// incidentFlags are the default action's flags about incidents, pushes and metrics.
func incidentFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "rounds-view", Usage: "list anomalous rounds, not incidents"},
		&cli.IntFlag{Name: "close-after", Value: incident.DefaultCloseAfter, Usage: "close an incident after `N` scored rounds without its cause"},
		&cli.StringFlag{Name: "allow", Usage: "accept the causes listed in `FILE` (lines: PORT/PROTO [process=NAME] [address=ADDR] # why)"},
		&cli.StringFlag{Name: "notify", Usage: "run `CMD` (sh -c) once per incident opened, changed or closed, its JSON on stdin"},
		&cli.BoolFlag{Name: "syslog", Usage: "log each incident event to syslog/journald (/dev/log), MSGID " + notify.MsgID},
		&cli.StringFlag{Name: "webhook", Usage: "POST each incident event's JSON to `URL`"},
		&cli.StringFlag{Name: "metrics", Usage: "write node_exporter textfile metrics to `FILE.prom`"},
	}
}

// incidentOptions reads the incident flags into o.
func incidentOptions(c *cli.Context, o *detectjob.Options) error {
	o.RoundsView, o.CloseAfter, o.Metrics = c.Bool("rounds-view"), c.Int("close-after"), c.String("metrics")
	if path := c.String("allow"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			return runerr.BadInputf("--allow: %w", err)
		}
		defer f.Close()
		if o.Allow, err = incident.ParseAllow(f); err != nil {
			return runerr.BadInputf("--allow %s: %w", path, err)
		}
	}
	if cmd := c.String("notify"); cmd != "" {
		o.Sinks = append(o.Sinks, notify.Command{Line: cmd})
	}
	if c.Bool("syslog") {
		host, _ := os.Hostname()
		o.Sinks = append(o.Sinks, notify.Syslog{Socket: "/dev/log", Host: host})
	}
	if url := c.String("webhook"); url != "" {
		o.Sinks = append(o.Sinks, notify.Webhook{URL: url, Client: &http.Client{}, Timeout: 2 * time.Second, Tries: 3, Backoff: 200 * time.Millisecond})
	}
	return nil
}

// incidentCommands are detect's subcommands on incidents, accepted causes
// and status.
func incidentCommands() []*cli.Command {
	db := &cli.StringFlag{Name: "db", Aliases: []string{"d"}, Required: true, Usage: "the portwatch database `FILE`"}
	narrow := []cli.Flag{
		&cli.StringFlag{Name: "port", Usage: "the cause's `PORT/PROTO`, e.g. 8443/tcp"},
		&cli.StringFlag{Name: "process", Usage: "only for process `NAME`"},
		&cli.StringFlag{Name: "address", Usage: "only for local address `ADDR`"},
	}
	return []*cli.Command{
		{Name: "incidents", Usage: "list incidents", UsageText: "detect incidents -d FILE [--open] [--json]",
			Flags:  []cli.Flag{db, &cli.BoolFlag{Name: "open", Usage: "open incidents only"}, &cli.BoolFlag{Name: "json", Usage: "one JSON object per line"}},
			Action: withDB(listIncidents)},
		{Name: "accept", Usage: "accept an incident's cause, or a port's: no incident opens for it, its rounds are refit on",
			UsageText: "detect accept -d FILE [--note WHY] ID | detect accept -d FILE --port 8443/tcp [--process NAME] [--address ADDR] [--note WHY]",
			Flags:     append([]cli.Flag{db, &cli.StringFlag{Name: "note", Usage: "why it is fine"}}, narrow...), Action: withDB(accept)},
		{Name: "accepted", Usage: "list accepted causes", UsageText: "detect accepted -d FILE", Flags: []cli.Flag{db}, Action: withDB(listAccepted)},
		{Name: "unaccept", Usage: "undo an accept (its id from detect accepted)", UsageText: "detect unaccept -d FILE ID",
			Flags: []cli.Flag{db}, Action: withDB(unaccept)},
		{Name: "status", Usage: "one screen on the database, the model and open incidents", UsageText: "detect status -d FILE [--model FILE]",
			Flags:  []cli.Flag{db, &cli.StringFlag{Name: "model", Usage: "the model `FILE` (default: portae.onnx beside the database)"}},
			Action: withDB(status)},
	}
}

// withDB opens the --db database for a subcommand's action.
func withDB(f func(c *cli.Context, db *store.DB) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		path := c.String("db")
		if _, err := os.Stat(path); err != nil {
			return runerr.BadInputf("database %s: %w; pass the file collect writes", path, err)
		}
		db, err := store.Open(c.Context, path)
		if err != nil {
			return err
		}
		defer db.Close()
		return f(c, db)
	}
}

func listIncidents(c *cli.Context, db *store.DB) error {
	var states []string
	if c.Bool("open") {
		states = []string{store.IncidentOpen}
	}
	ins, err := db.Incidents(c.Context, states...)
	if err != nil {
		return err
	}
	return detectjob.WriteIncidents(c.App.Writer, ins, c.Bool("json"))
}

func accept(c *cli.Context, db *store.DB) error {
	a := store.Accept{By: whoami(), At: time.Now(), Note: c.String("note")}
	var rule incident.Rule
	var ids []int64
	switch {
	case c.NArg() == 1 && !c.IsSet("port"):
		id, err := strconv.ParseInt(c.Args().First(), 10, 64)
		if err != nil {
			return runerr.BadInputf("accept %q: want an incident ID from detect incidents", c.Args().First())
		}
		in, err := findIncident(c.Context, db, id)
		if err != nil {
			return err
		}
		var d incident.Detail
		if err := json.Unmarshal([]byte(in.Detail), &d); err != nil {
			return fmt.Errorf("incident %d detail: %w", id, err)
		}
		rule, a.IncidentID, ids = incident.RuleOf(d.Key), id, []int64{id}
	case c.NArg() == 0 && c.IsSet("port"):
		var err error
		if rule, err = incident.ParsePort(c.String("port")); err != nil {
			return runerr.BadInputf("--port: %w", err)
		}
		rule.Process, rule.Address = c.String("process"), c.String("address")
		if ids, err = matchingOpen(c.Context, db, rule); err != nil {
			return err
		}
	default:
		return runerr.BadInputf("accept: pass one incident ID or --port PORT/PROTO")
	}
	a.Protocol, a.Port, a.Process, a.Address = rule.Protocol, rule.Port, rule.Process, rule.Address
	id, err := db.AddAccept(c.Context, a, ids)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.App.Writer, "accepted %d: %s (%d incidents)\n", id, rule, len(ids))
	return err
}

func findIncident(ctx context.Context, db *store.DB, id int64) (store.Incident, error) {
	ins, err := db.Incidents(ctx)
	if err != nil {
		return store.Incident{}, err
	}
	for _, in := range ins {
		if in.ID == id {
			return in, nil
		}
	}
	return store.Incident{}, runerr.BadInputf("incident %d: no such incident; list them with detect incidents", id)
}

// matchingOpen returns the open incidents whose key rule accepts.
func matchingOpen(ctx context.Context, db *store.DB, rule incident.Rule) ([]int64, error) {
	open, err := db.Incidents(ctx, store.IncidentOpen)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, in := range open {
		var d incident.Detail
		if json.Unmarshal([]byte(in.Detail), &d) == nil && rule.Match(d.Key) {
			ids = append(ids, in.ID)
		}
	}
	return ids, nil
}

func whoami() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

func listAccepted(c *cli.Context, db *store.DB) error {
	as, err := db.Accepts(c.Context)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCAUSE\tINCIDENT\tBY\tWHEN (UTC)\tNOTE")
	for _, a := range as {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\n", a.ID, incident.RuleOfAccept(a), a.IncidentID, a.By, a.At.UTC().Format(time.DateTime), a.Note)
	}
	return tw.Flush()
}

func unaccept(c *cli.Context, db *store.DB) error {
	id, err := strconv.ParseInt(c.Args().First(), 10, 64)
	if c.NArg() != 1 || err != nil {
		return runerr.BadInputf("unaccept: want one ID from detect accepted")
	}
	found, err := db.RemoveAccept(c.Context, id)
	if err != nil {
		return err
	}
	if !found {
		return runerr.BadInputf("unaccept %d: no such accepted cause; list them with detect accepted", id)
	}
	_, err = fmt.Fprintf(c.App.Writer, "unaccepted %d\n", id)
	return err
}
