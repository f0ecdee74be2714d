package collect

import (
	"portwatch/pkg/capture"
	"portwatch/pkg/portscan"
	"portwatch/pkg/store"
)

// portOf converts a scanned socket to its rounds_ports row.
func portOf(s portscan.Socket) store.Port {
	return store.Port{
		Port: s.Port, Protocol: s.Protocol, Family: s.Family, Address: s.Address.String(),
		State: s.State, PID: s.PID, Process: s.Process,
	}
}

// packetOf fills dst, reused between packets, from a captured packet.
// The payload is shared: the store copies it.
func packetOf(p *capture.Packet, dst *store.Packet) {
	*dst = store.Packet{
		Frame: p.Frame, Time: p.Time, Length: p.Length, Protocols: p.Protocols,
		SrcIP: p.SrcIP, DstIP: p.DstIP, SrcPort: p.SrcPort, DstPort: p.DstPort,
		TCPFlags: p.TCPFlags, QryName: p.QryName, RespName: p.RespName, Payload: p.Payload,
	}
}

func countsOf(s capture.Stats) store.Counts {
	return store.Counts{Frames: s.Frames, Malformed: s.Malformed, Skipped: s.Skipped, Dropped: s.Dropped}
}
