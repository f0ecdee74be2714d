package store

import (
	"database/sql"
	"fmt"
	"strings"

	"portwatch/pkg/traffic"
)

// trafficStmts write a round's traffic summary; prepared on first use, as
// only rounds with a capture have one.
type trafficStmts struct {
	round, port, source, dns, local *sql.Stmt
}

func (w *Writer) prepareTraffic() error {
	if w.traffic != nil {
		return nil
	}
	t := &trafficStmts{}
	if err := w.prepareAll("traffic", []namedStmt{
		{&t.round, `INSERT INTO traffic_rounds (round_id, packets, ip_packets, overflow, sources, icmp_unreachable,
			dns_queries, dns_responses, dns_names, dns_max_label, dns_mean_label, dns_entropy, dns_max_entropy,
			dns_txt_null_share, dns_nxdomain_share, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&t.port, `INSERT INTO traffic_ports (round_id, port, protocol, direction, packets, syns, rsts, peers)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`},
		{&t.source, `INSERT INTO traffic_sources (round_id, address, local_ports, local_hosts, packets, syns)
			VALUES (?, ?, ?, ?, ?, ?)`},
		{&t.dns, `INSERT INTO traffic_dns (round_id, domain, queries, names, max_label) VALUES (?, ?, ?, ?, ?)`},
		{&t.local, `UPDATE rounds SET local_from = ?, local_addrs = ? WHERE id = ?`},
	}); err != nil {
		return err
	}
	w.traffic = t
	return nil
}

func (t *trafficStmts) close() {
	if t != nil {
		closeAll(t.round, t.port, t.source, t.dns, t.local)
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
	if err := w.prepareTraffic(); err != nil {
		return err
	}
	t, d := w.traffic, s.DNS
	exec := func(what string, st *sql.Stmt, args ...any) error {
		if _, err := st.ExecContext(w.ctx, args...); err != nil {
			return w.fail(fmt.Errorf("store traffic %s of round %d: %w", what, round, err))
		}
		return nil
	}
	addrs := make([]string, len(s.Local.Prefixes))
	for i, p := range s.Local.Prefixes {
		addrs[i] = p.String()
		if p.IsSingleIP() {
			addrs[i] = p.Addr().String()
		}
	}
	if err := exec("local side", t.local, s.Local.From, strings.Join(addrs, ","), round); err != nil {
		return err
	}
	if err := exec("summary", t.round, round, s.Packets, s.IPPackets, s.Overflow, s.Sources, s.Unreach,
		d.Queries, d.Responses, d.Names, d.MaxLabel, d.MeanLabel, d.Entropy, d.MaxEntropy, d.TXTNullShare, d.NXDomainShare,
		nullString(s.Note)); err != nil {
		return err
	}
	for _, p := range s.Ports {
		if err := exec("port", t.port, round, int64(p.Port), p.Protocol, p.Direction, p.Packets, p.SYNs, p.RSTs, p.Peers); err != nil {
			return err
		}
	}
	for _, src := range s.Top {
		if err := exec("source", t.source, round, src.Address, src.LocalPorts, src.LocalHosts, src.Packets, src.SYNs); err != nil {
			return err
		}
	}
	for _, dom := range s.Domains {
		if err := exec("domain", t.dns, round, dom.Domain, dom.Queries, dom.Names, dom.MaxLabel); err != nil {
			return err
		}
	}
	return nil
}
