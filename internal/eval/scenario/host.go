package scenario

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"portwatch/pkg/sock"
	"time"
)

// The host's own addresses, for the local end of its connections.
const (
	hostIP4 = "192.168.1.23"
	hostIP6 = "2001:db8:5::23"
)

// Linux's default net.ipv4.ip_local_port_range.
const (
	ephemeralLow  = 32768
	ephemeralHigh = 60999
)

// service is a process and the sockets it keeps bound while it runs.
type service struct {
	port    uint16 // the port an event names
	sockets []sock.Socket
}

func newService(r *rand.Rand, process string, binds ...sock.Socket) service {
	pid := 300 + r.IntN(30000)
	for i := range binds {
		binds[i].PID, binds[i].Process = pid, process
	}
	return service{port: binds[0].Port, sockets: binds}
}

func tcpListen(port uint16, family int, addr string) sock.Socket {
	return sock.Socket{Port: port, Protocol: sock.TCP, Family: family, Address: netip.MustParseAddr(addr), State: sock.Listen}
}

func udpBound(port uint16, family int, addr string) sock.Socket {
	return sock.Socket{Port: port, Protocol: sock.UDP, Family: family, Address: netip.MustParseAddr(addr), State: sock.Unconn}
}

// host is a Linux server-cum-workstation: steady system services, a web
// server, databases on loopback, a dev server in office hours and a nightly
// backup daemon.
type host struct {
	always []service
	// vanishable are always-on TCP services whose loss is an anomaly;
	// loopback those that listen on loopback only (rebind candidates).
	vanishable, loopback []service
	dev                  service // weekdays, office hours, loopback
	backup               service // nightly, a few minutes from 02:00, wildcard
	reserved             map[uint16]bool
	load                 load
	rhythm               *rhythm // nil for Mixed
}

// load scales the host's connection rates: clients (its users' browsers)
// and servers (clients of its web server).
type load struct{ clients, servers float64 }

func loads(p Profile) load {
	switch p {
	case Server:
		return load{clients: 0.2, servers: 2}
	case BusyServer:
		return load{clients: 0.2, servers: 10}
	case Workstation:
		return load{clients: 1.5, servers: 0.05}
	}
	return load{clients: 1, servers: 1}
}

// usual is the host's mean rate of new connections a minute at t.
func (l load) usual(t time.Time) float64 {
	return (8*l.clients + 3*l.servers) * activity(t)
}

func newHost(r *rand.Rand) *host {
	containerd := uint16(33000 + r.IntN(27000))
	avahi := uint16(33000 + r.IntN(27000))
	for avahi == containerd {
		avahi = uint16(33000 + r.IntN(27000))
	}
	sshd := newService(r, "sshd", tcpListen(22, 4, "0.0.0.0"), tcpListen(22, 6, "::"))
	nginx := newService(r, "nginx", tcpListen(80, 4, "0.0.0.0"), tcpListen(80, 6, "::"),
		tcpListen(443, 4, "0.0.0.0"), tcpListen(443, 6, "::"))
	postgres := newService(r, "postgres", tcpListen(5432, 4, "127.0.0.1"), tcpListen(5432, 6, "::1"))
	redis := newService(r, "redis-server", tcpListen(6379, 4, "127.0.0.1"), tcpListen(6379, 6, "::1"))
	cupsd := newService(r, "cupsd", tcpListen(631, 4, "127.0.0.1"), tcpListen(631, 6, "::1"))
	nodeExporter := newService(r, "node_exporter", tcpListen(9100, 6, "::"))
	containerdSvc := newService(r, "containerd", tcpListen(containerd, 4, "127.0.0.1"))
	h := &host{
		always: []service{sshd, nginx, postgres, redis, cupsd, nodeExporter, containerdSvc,
			newService(r, "systemd-resolve", tcpListen(53, 4, "127.0.0.53"), udpBound(53, 4, "127.0.0.53"),
				tcpListen(53, 4, "127.0.0.54"), udpBound(53, 4, "127.0.0.54"),
				tcpListen(5355, 4, "0.0.0.0"), tcpListen(5355, 6, "::"), udpBound(5355, 4, "0.0.0.0"), udpBound(5355, 6, "::")),
			newService(r, "avahi-daemon", udpBound(5353, 4, "0.0.0.0"), udpBound(5353, 6, "::"), udpBound(avahi, 4, "0.0.0.0")),
			newService(r, "chronyd", udpBound(323, 4, "127.0.0.1"), udpBound(323, 6, "::1")),
			newService(r, "NetworkManager", udpBound(68, 4, "0.0.0.0")),
		},
		vanishable: []service{sshd, nginx, postgres, redis, cupsd, nodeExporter},
		loopback:   []service{postgres, redis, cupsd, containerdSvc},
		dev:        newService(r, "node", tcpListen(3000, 4, "127.0.0.1"), tcpListen(3000, 6, "::1")),
		backup:     newService(r, "rsync", tcpListen(873, 4, "0.0.0.0"), tcpListen(873, 6, "::")),
		reserved:   map[uint16]bool{},
	}
	for _, s := range append(h.always, h.dev, h.backup) {
		for _, b := range s.sockets {
			h.reserved[b.Port] = true
		}
	}
	return h
}

// plan is one day's rhythm: when the dev server runs and the backup starts,
// in minutes of the day; devFrom == devTo on days off.
type plan struct {
	devFrom, devTo, backupFrom, backupTo int
}

func newPlan(r *rand.Rand, day time.Time) plan {
	p := plan{backupFrom: 120 + r.IntN(6)}
	p.backupTo = p.backupFrom + 8 + r.IntN(8)
	if wd := day.Weekday(); wd != time.Saturday && wd != time.Sunday {
		p.devFrom = 9*60 - 30 + r.IntN(60)
		p.devTo = 18*60 - 30 + r.IntN(90)
	}
	return p
}

func (p plan) devOn(minute int) bool    { return minute >= p.devFrom && minute < p.devTo }
func (p plan) backupOn(minute int) bool { return minute >= p.backupFrom && minute < p.backupTo }

// activity scales connection rates by time of day and day of week.
func activity(t time.Time) float64 {
	weekend := t.Weekday() == time.Saturday || t.Weekday() == time.Sunday
	switch h := t.Hour(); {
	case h < 7:
		return 0.15
	case h < 9:
		return 0.6
	case h < 18 && weekend:
		return 0.5
	case h < 18:
		return 1
	case h < 23:
		return 0.6
	}
	return 0.3
}

// conn is a live connection's local end.
type conn struct {
	sock.Socket
	left int  // rounds still established
	wait bool // TCP: a round in time-wait after it closes
}

// traffic is the host's connections from round to round.
type traffic struct {
	r    *rand.Rand
	h    *host
	live []conn
	used map[uint16]bool // ephemeral ports held by live connections
	pids map[string]int  // a client process keeps its pid
}

// ephemeral picks a free port the way connect() does: anywhere in the range.
func (tr *traffic) ephemeral() uint16 {
	for {
		p := uint16(ephemeralLow + tr.r.IntN(ephemeralHigh-ephemeralLow+1))
		if !tr.used[p] && !tr.h.reserved[p] {
			tr.used[p] = true
			return p
		}
	}
}

// open starts n connections with local port port (0: ephemeral),
// established for one round and about life more.
func (tr *traffic) open(n int, port uint16, proto sock.Protocol, family int, addr, process string, life float64) {
	for range n {
		p := port
		if p == 0 {
			p = tr.ephemeral()
		}
		pid, ok := tr.pids[process]
		if !ok {
			pid = 1000 + tr.r.IntN(60000)
			tr.pids[process] = pid
		}
		tr.live = append(tr.live, conn{
			Socket: sock.Socket{Port: p, Protocol: proto, Family: family, Address: netip.MustParseAddr(addr),
				State: sock.Established, PID: pid, Process: process},
			left: 1 + geometric(tr.r, life),
			wait: proto == sock.TCP,
		})
	}
}

// reset drops every connection, as a host waking from sleep finds them.
func (tr *traffic) reset() {
	tr.live = tr.live[:0]
	clear(tr.used)
}

// step returns this round's connection sockets and ages the connections.
func (tr *traffic) step(out []sock.Socket) []sock.Socket {
	keep := tr.live[:0]
	for _, c := range tr.live {
		switch {
		case c.left > 0:
			out = append(out, c.Socket)
			c.left--
			keep = append(keep, c)
		case c.wait:
			tw := c.Socket
			tw.State, tw.PID, tw.Process = sock.TimeWait, 0, ""
			out = append(out, tw)
			c.wait = false
			keep = append(keep, c)
		default:
			if c.Port >= ephemeralLow {
				delete(tr.used, c.Port)
			}
		}
	}
	tr.live = keep
	return out
}

// arrivals opens this round's new connections at time t.
func (tr *traffic) arrivals(t time.Time, p plan) {
	r, a, l := tr.r, activity(t), tr.h.load
	minute := t.Hour()*60 + t.Minute()
	family, addr := 4, hostIP4
	if r.IntN(5) == 0 {
		family, addr = 6, hostIP6
	}
	// Clients: mostly short requests, some long-lived (websockets, ssh).
	tr.open(poisson(r, 8*a*l.clients), 0, sock.TCP, family, addr, "firefox", 2)
	tr.open(poisson(r, 0.5*a*l.clients), 0, sock.TCP, family, addr, "firefox", 30)
	tr.open(poisson(r, 0.1*a), 0, sock.TCP, 4, hostIP4, "ssh", 60)
	tr.open(poisson(r, 1.2*a), 0, sock.UDP, 4, hostIP4, "systemd-resolve", 0)
	// Servers: web clients, office-hours ssh sessions.
	tr.open(poisson(r, 3*a*l.servers), 443, sock.TCP, family, addr, "nginx", 1)
	tr.open(poisson(r, 0.5*a*l.servers), 80, sock.TCP, 4, hostIP4, "nginx", 0)
	if a == 1 {
		tr.open(poisson(r, 0.02), 22, sock.TCP, 4, hostIP4, "sshd", 60)
	}
	if p.devOn(minute) {
		tr.open(poisson(r, 2), 3000, sock.TCP, 4, "127.0.0.1", "node", 3)
		tr.open(poisson(r, 2), 0, sock.TCP, 4, "127.0.0.1", "firefox", 3)
	}
	// Cron: a quarter-hourly fetch, the nightly backup, Sunday's updates.
	if t.Minute()%15 == 0 {
		tr.open(poisson(r, 12), 0, sock.TCP, 4, hostIP4, "curl", 0)
	}
	if p.backupOn(minute) {
		tr.open(poisson(r, 3), 0, sock.TCP, 4, hostIP4, "rsync", 5)
		tr.open(poisson(r, 0.5), 873, sock.TCP, 4, hostIP4, "rsync", 5)
	}
	if t.Weekday() == time.Sunday && t.Hour() == 3 && t.Minute() < 20 {
		tr.open(poisson(r, 15), 0, sock.TCP, 4, hostIP4, "http", 2)
	}
}

// pool opens the app server's persistent database connections (both ends on
// loopback), after boot and after each wake.
func (tr *traffic) pool() {
	for range 4 {
		tr.open(1, 0, sock.TCP, 4, "127.0.0.1", "python3", math.MaxInt32)
		tr.open(1, 5432, sock.TCP, 4, "127.0.0.1", "postgres", math.MaxInt32)
	}
}

// poisson draws a Poisson count with mean lambda (Knuth; lambda is small here).
func poisson(r *rand.Rand, lambda float64) int {
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// geometric draws a lifetime in rounds with the given mean (0: none).
func geometric(r *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean >= math.MaxInt32 {
		return math.MaxInt32 - 1
	}
	return int(math.Floor(math.Log(1-r.Float64()) / math.Log(1-1/(mean+1))))
}
