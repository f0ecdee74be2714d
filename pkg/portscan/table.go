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
// pid and process, then the network namespace's inode and its container (its Netns.Name, or "host"
// for the host's own), sorted by protocol, port and address ("-" where unknown).
// It sorts a copy; socks is left as it was.
func WriteTable(w io.Writer, socks []sock.Socket) error {
	sorted := slices.Clone(socks)
	slices.SortStableFunc(sorted, compareSockets)
	var buf bytes.Buffer // tabwriter reports w's errors unreliably mid-table; write once instead
	tw := tabwriter.NewWriter(&buf, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PROTO\tFAMILY\tADDRESS\tPORT\tSTATE\tPID\tPROCESS\tNETNS\tCONTAINER")
	for _, s := range sorted {
		pid, name := "-", "-"
		if s.PID != 0 {
			pid = strconv.Itoa(s.PID)
		}
		if s.Process != "" {
			name = s.Process
		}
		netns, container := "-", "-"
		if s.Netns.Inode != 0 {
			netns = strconv.FormatUint(s.Netns.Inode, 10)
		}
		switch {
		case s.Netns.Host:
			container = "host"
		case s.Netns.Name != "":
			container = s.Netns.Name
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", s.Protocol, s.Family, s.Address, s.Port, s.State, pid, name, netns, container)
	}
	tw.Flush() // cannot fail: buf takes every write
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write socket table: %w", err)
	}
	return nil
}

// compareSockets orders by protocol, port, address, then state, namespace and pid so equal keys
// print alike.
func compareSockets(a, b sock.Socket) int {
	return cmp.Or(
		cmp.Compare(a.Protocol, b.Protocol),
		cmp.Compare(a.Port, b.Port),
		a.Address.Compare(b.Address),
		cmp.Compare(a.State.String(), b.State.String()),
		cmp.Compare(a.Netns.Inode, b.Netns.Inode),
		cmp.Compare(a.PID, b.PID),
	)
}
