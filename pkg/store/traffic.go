package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"strings"

	"portwatch/pkg/traffic"
)

// trafficStmts write rounds' traffic summaries; prepared on first use, as
// only rounds with a capture have one.
type trafficStmts struct {
	round, port, source, dns *rowInserter
	local                    *fusedStmt
}

func (w *Writer) prepareTraffic() error {
	if w.traffic != nil {
		return nil
	}
	t := &trafficStmts{}
	for _, s := range []struct {
		r              **rowInserter
		table, columns string
	}{
		{&t.round, "traffic_rounds", `round_id, packets, ip_packets, overflow, sources, icmp_unreachable,
			dns_queries, dns_responses, dns_names, dns_max_label, dns_mean_label, dns_entropy, dns_max_entropy,
			dns_txt_null_share, dns_nxdomain_share, note, syn_sources, reflect_port, reflect_sources, reflect_packets,
			spread_source, spread_port, spread_hosts, dns_nx_depth, dns_nx_name, backdoor_host, backdoor_port, backdoor_peers`},
		{&t.port, "traffic_ports", "round_id, port, protocol, direction, packets, syns, rsts, peers"},
		{&t.source, "traffic_sources", `round_id, address, local_ports, local_hosts, probed_ports, probed_hosts,
			packets, syns, attempts, attempt_host, attempt_port, local`},
		{&t.dns, "traffic_dns", "round_id, domain, queries, names, max_label"},
	} {
		r, err := w.newRowInserter(s.table, s.columns, roundsPerInsert)
		if err != nil {
			t.close(w)
			return w.fail(err)
		}
		*s.r = r
	}
	if err := w.prepareFused("traffic", []namedFused{
		{&t.local, `UPDATE rounds SET local_from = ?, local_addrs = ? WHERE id = ?`},
	}); err != nil {
		t.close(w)
		return err
	}
	w.traffic = t
	return nil
}

func (t *trafficStmts) close(w *Writer) {
	if t != nil {
		t.round.close(w)
		t.port.close(w)
		t.source.close(w)
		t.dns.close(w)
		w.closeFused(t.local)
	}
}

// namedStmt is a statement to prepare into *s.
type namedStmt struct {
	s    **sql.Stmt
	text string
}

// prepareAll prepares statements on the Writer's connection; when one
// fails, those prepared before it are closed again.
func (w *Writer) prepareAll(what string, stmts []namedStmt) error {
	for i, s := range stmts {
		st, err := w.conn.PrepareContext(w.ctx, s.text)
		if err != nil {
			for _, done := range stmts[:i] {
				(*done.s).Close()
			}
			return w.fail(fmt.Errorf("prepare %s statements: %w", what, err))
		}
		*s.s = st
	}
	return nil
}

func closeAll(stmts ...*sql.Stmt) {
	for _, s := range stmts {
		if s != nil {
			s.Close()
		}
	}
}

// AddTraffic stores a round's traffic summary (once, at the round's end)
// and where its local side came from.
func (w *Writer) AddTraffic(round int64, s *traffic.Summary) error {
	if err := w.check(round); err != nil {
		return err
	}
	addrs := make([]string, len(s.Local.Prefixes))
	for i, p := range s.Local.Prefixes {
		addrs[i] = p.String()
		if p.IsSingleIP() {
			addrs[i] = p.Addr().String()
		}
	}
	joined := strings.Join(addrs, ",")
	r := w.pending[round]
	if r != nil { // the round's INSERT sets the local side
		r.localFrom, r.localAddrs = s.Local.From, joined
	}
	w.async(func() error { return w.addTraffic(round, s, r == nil, joined) })
	return w.failed()
}

// addTraffic stores s, and its local side (addrs joined) when setLocal.
func (w *Writer) addTraffic(round int64, s *traffic.Summary, setLocal bool, addrs string) error {
	if err := w.prepareTraffic(); err != nil {
		return err
	}
	t, d := w.traffic, s.DNS
	if setLocal {
		// The round's row may be buffered.
		if err := w.rounds.flush(w); err != nil {
			return err
		}
		if err := w.exec(t.local, s.Local.From, addrs, round); err != nil {
			return fmt.Errorf("store the local side of round %d: %w", round, err)
		}
	}
	// The rows go into multi-row INSERTs, whose failure names no round.
	if err := t.round.add(w, round, s.Packets, s.IPPackets, s.Overflow, s.Sources, s.Unreach,
		d.Queries, d.Responses, d.Names, int64(d.MaxLabel), d.MeanLabel, d.Entropy, d.MaxEntropy, d.TXTNullShare, d.NXDomainShare,
		nullString(s.Note), s.SYNSources, int64(s.Reflect.Port), s.Reflect.Sources, s.Reflect.Packets,
		s.Spread.Source, int64(s.Spread.Port), s.Spread.Hosts, int64(d.NXDepth), d.NXName,
		s.Backdoor.Host, int64(s.Backdoor.Port), s.Backdoor.Peers); err != nil {
		return err
	}
	for _, p := range s.Ports {
		if err := t.port.add(w, round, int64(p.Port), p.Protocol, p.Direction, p.Packets, p.SYNs, p.RSTs, p.Peers); err != nil {
			return err
		}
	}
	for _, src := range s.Top {
		if err := t.source.add(w, round, src.Address, src.LocalPorts, src.LocalHosts,
			src.ProbedPorts, src.ProbedHosts, src.Packets, src.SYNs, src.Attempts, src.AttemptHost, int64(src.AttemptPort), src.Local); err != nil {
			return err
		}
	}
	for _, dom := range s.Domains {
		if err := t.dns.add(w, round, dom.Domain, dom.Queries, dom.Names, int64(dom.MaxLabel)); err != nil {
			return err
		}
	}
	return nil
}

// loadTraffic adds their traffic summaries to rounds, which hold what q
// selected, in four queries (one per table) over q's selection; a round
// without a summary keeps Traffic nil. It runs
// outside a transaction: figures of rounds completed since are skipped.
func (d *DB) loadTraffic(ctx context.Context, q RoundQuery, rounds []Round) error {
	at := make(map[int64]*traffic.Summary, len(rounds))
	cte, args := q.selection()
	rows, err := d.db.QueryContext(ctx, cte+`
SELECT t.round_id, coalesce(r.local_from, ''), coalesce(r.local_addrs, ''), t.packets, t.ip_packets, t.overflow,
	t.sources, t.icmp_unreachable, t.dns_queries, t.dns_responses, t.dns_names, t.dns_max_label, t.dns_mean_label,
	t.dns_entropy, t.dns_max_entropy, t.dns_txt_null_share, t.dns_nxdomain_share, coalesce(t.note, ''),
	t.syn_sources, t.reflect_port, t.reflect_sources, t.reflect_packets, t.spread_source, t.spread_port, t.spread_hosts,
	t.dns_nx_depth, t.dns_nx_name, t.backdoor_host, t.backdoor_port, t.backdoor_peers
FROM traffic_rounds t JOIN rounds r ON r.id = t.round_id
WHERE t.round_id IN (SELECT id FROM ids) ORDER BY t.round_id`, args...)
	if err != nil {
		return fmt.Errorf("load traffic summaries: %w", err)
	}
	i := 0
	for rows.Next() {
		var id int64
		var addrs string
		s := &traffic.Summary{}
		dn := &s.DNS
		if err := rows.Scan(&id, &s.Local.From, &addrs, &s.Packets, &s.IPPackets, &s.Overflow, &s.Sources, &s.Unreach,
			&dn.Queries, &dn.Responses, &dn.Names, &dn.MaxLabel, &dn.MeanLabel, &dn.Entropy, &dn.MaxEntropy,
			&dn.TXTNullShare, &dn.NXDomainShare, &s.Note, &s.SYNSources, &s.Reflect.Port, &s.Reflect.Sources, &s.Reflect.Packets,
			&s.Spread.Source, &s.Spread.Port, &s.Spread.Hosts, &dn.NXDepth, &dn.NXName,
			&s.Backdoor.Host, &s.Backdoor.Port, &s.Backdoor.Peers); err != nil {
			rows.Close()
			return fmt.Errorf("load traffic summaries: %w", err)
		}
		if s.Local.Prefixes, err = parsePrefixes(addrs); err != nil {
			rows.Close()
			return fmt.Errorf("load traffic summary of round %d: local_addrs: %w", id, err)
		}
		for i < len(rounds) && rounds[i].ID < id {
			i++
		}
		if i < len(rounds) && rounds[i].ID == id {
			rounds[i].Traffic = s
			at[id] = s
		}
	}
	if err := closeRows(rows, "load traffic summaries"); err != nil {
		return err
	}
	return d.loadTrafficRows(ctx, cte, args, at)
}

// loadTrafficRows fills the per-port, per-source and per-domain rows of
// the summaries in at, by round id.
func (d *DB) loadTrafficRows(ctx context.Context, cte string, args []any, at map[int64]*traffic.Summary) error {
	// Each scan reads one row: its round id, and what to add to that round.
	type scanner func(rows *sql.Rows) (int64, func(*traffic.Summary), error)
	tables := []struct {
		what, query string
		scan        scanner
	}{
		{"ports", `SELECT round_id, port, protocol, direction, packets, syns, rsts, peers FROM traffic_ports
WHERE round_id IN (SELECT id FROM ids) ORDER BY round_id, port, protocol, direction`,
			func(rows *sql.Rows) (int64, func(*traffic.Summary), error) {
				var p traffic.PortStat
				var id int64
				err := rows.Scan(&id, &p.Port, &p.Protocol, &p.Direction, &p.Packets, &p.SYNs, &p.RSTs, &p.Peers)
				return id, func(s *traffic.Summary) { s.Ports = append(s.Ports, p) }, err
			}},
		{"sources", `SELECT round_id, address, local_ports, local_hosts, probed_ports, probed_hosts, packets, syns,
	attempts, attempt_host, attempt_port, local
FROM traffic_sources WHERE round_id IN (SELECT id FROM ids) ORDER BY round_id, local_ports DESC, local_hosts DESC, attempts DESC, address`,
			func(rows *sql.Rows) (int64, func(*traffic.Summary), error) {
				var src traffic.SourceStat
				var id int64
				err := rows.Scan(&id, &src.Address, &src.LocalPorts, &src.LocalHosts, &src.ProbedPorts, &src.ProbedHosts,
					&src.Packets, &src.SYNs, &src.Attempts, &src.AttemptHost, &src.AttemptPort, &src.Local)
				return id, func(s *traffic.Summary) { s.Top = append(s.Top, src) }, err
			}},
		{"domains", `SELECT round_id, domain, queries, names, max_label FROM traffic_dns
WHERE round_id IN (SELECT id FROM ids) ORDER BY round_id, names DESC, domain`,
			func(rows *sql.Rows) (int64, func(*traffic.Summary), error) {
				var dom traffic.DomainStat
				var id int64
				err := rows.Scan(&id, &dom.Domain, &dom.Queries, &dom.Names, &dom.MaxLabel)
				return id, func(s *traffic.Summary) { s.Domains = append(s.Domains, dom) }, err
			}},
	}
	for _, tb := range tables {
		rows, err := d.db.QueryContext(ctx, cte+"\n"+tb.query, args...)
		if err != nil {
			return fmt.Errorf("load traffic %s: %w", tb.what, err)
		}
		for rows.Next() {
			id, add, err := tb.scan(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("load traffic %s: %w", tb.what, err)
			}
			if s := at[id]; s != nil {
				add(s)
			}
		}
		if err := closeRows(rows, "load traffic "+tb.what); err != nil {
			return err
		}
	}
	return nil
}

// closeRows closes rows and reports the error that ended them, if any.
func closeRows(rows *sql.Rows, what string) error {
	err := rows.Err()
	rows.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// parsePrefixes reads rounds.local_addrs: addresses and prefixes, comma-separated.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	if s == "" {
		return nil, nil
	}
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p)
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, err
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
