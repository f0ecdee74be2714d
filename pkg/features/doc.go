// Package features turns stored collection rounds into the autoencoder's
// input: windows of T consecutive complete rounds, each round a [C, 65536]
// plane of per-port values, one row per channel.
//
// # Channels
//
// A model names its channels (ONNX metadata portwatch.channels); NewLayout
// checks them and refuses unknown names. Occupancy channels are 0 or 1 per
// port and merge IPv4 and IPv6, and the network namespaces collect scanned
// (the host's and its containers'):
//
//	tcp_listen            a TCP socket in state listen on the port
//	udp_bound             a UDP socket bound to the port (unconn or established)
//	tcp_conn              a TCP socket in any other state (established, time-wait, ...)
//	tcp_listen_wildcard   a TCP listener on 0.0.0.0 or ::, reachable from the network
//	tcp_listen_loopback   a TCP listener on 127.0.0.0/8 or ::1, local only
//	tcp_listen_container  a TCP listener outside the host's own network namespace
//
// A channel is 65536 wide, one value per port, so the same port listening in
// the host and in a container is one cell of tcp_listen; tcp_listen_container
// tells the two apart (a service moved from the host into a container, or a
// new listener in a container on a port the host also uses), and the sockets
// behind a cell (Layout.Explain) keep their namespaces, so a detector names
// the container. It is not among the default channels.
//
// The default three are tcp_listen, udp_bound and tcp_conn. The address
// splits let a model see a service rebound from loopback to the wildcard
// address, which tcp_listen alone cannot.
//
// Four channels are read from the round's traffic summary (see
// pkg/traffic; store.RoundQuery.Traffic), inbound only, to a local
// address on the port, each count n scaled min(1, log1p(n)/log1p(1024)),
// so 1 is 0.1 and 1024 or more are 1:
//
//	syn_in    TCP SYNs without ACK: connection attempts
//	tcp_in    TCP segments
//	udp_in    UDP datagrams
//	peers_in  distinct remote addresses (the larger of TCP's and UDP's)
//
// A round without a summary (no capture) has them all 0. A layout of
// traffic channels alone (TrafficChannels) is a model of capture rounds.
//
// One channel is the calendar, so a model can learn that a port is normal
// at some hours and not others (a dev server in office hours, a nightly
// backup daemon):
//
//	clock    one-hot fields of the round's start (UTC), each at the start of
//	         its own block of 256 ports: at 61440+m its minute of the hour,
//	         at 61696+h its hour of the day, at 61952+d its day of the week
//	         (Sunday 0), at 62208+q its minute of the quarter hour; 0
//	         elsewhere. Layout.FillForecast gives a model the last round's
//	         clock with its occupancy masked, so the model learns phase.
//
// # Loading
//
// The store reads the rounds (store.DB.Rounds): complete rounds, selected by
// id, start time and source, in one query over rounds and rounds_ports
// ordered by round id and port (plus one query per traffic table when a
// traffic channel is asked for). RoundQuery.Context adds the rounds just
// before the selection, so the first selected round still gets a full
// window. This package turns them into tensors and reads no database.
//
// # Windows and gaps
//
// Windows returns one window per round, ending at it. Rounds are meant to be
// a minute apart; a host asleep or a missed cron run leaves a gap. A gap
// longer than three times the median spacing of the rounds given (or a clock
// that went backwards) breaks the chain: no window reaches across it. The
// first T-1 rounds after a gap, and the first T-1 rounds of the slice, get
// windows padded at the front by repeating the first round after the gap, as
// if the host had been steady since it woke; Window.Padded says how many
// entries are padding, so a caller may choose not to score such windows.
// Scoring them means a listener opened at boot is still judged.
//
// # Filling
//
// Layout.Fill writes one window as [T, C, 65536] float32 into a buffer the
// caller owns, so a detector can fill a micro-batch and reuse it;
// Layout.FillRound writes one round as [C, 65536], the autoencoder's target
// (the window's last round).
package features
