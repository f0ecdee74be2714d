package portscan

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"portwatch/pkg/sock"
	"slices"
	"strconv"
	"text/tabwriter"
)

// WriteTable prints socks as a table much like `ss -tulpn`: protocol, family, address, port, state,
// pid and process, sorted by protocol, port and address ("-" where the owner is unknown).
// It sorts a copy; socks is left as it was.
func WriteTable(w io.Writer, socks []sock.Socket) error {
	sorted := slices.Clone(socks)
	slices.SortStableFunc(sorted, compareSockets)
	var buf bytes.Buffer // tabwriter reports w's errors unreliably mid-table; write once instead
	tw := tabwriter.NewWriter(&buf, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PROTO\tFAMILY\tADDRESS\tPORT\tSTATE\tPID\tPROCESS")
	for _, s := range sorted {
		pid, name := "-", "-"
		if s.PID != 0 {
			pid = strconv.Itoa(s.PID)
		}
		if s.Process != "" {
			name = s.Process
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\t%s\n", s.Protocol, s.Family, s.Address, s.Port, s.State, pid, name)
	}
	tw.Flush() // cannot fail: buf takes every write
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write socket table: %w", err)
	}
	return nil
}

// compareSockets orders by protocol, port, address, then state and pid so equal keys print alike.
func compareSockets(a, b sock.Socket) int {
	return cmp.Or(
		cmp.Compare(a.Protocol, b.Protocol),
		cmp.Compare(a.Port, b.Port),
		a.Address.Compare(b.Address),
		cmp.Compare(a.State.String(), b.State.String()),
		cmp.Compare(a.PID, b.PID),
	)
}
