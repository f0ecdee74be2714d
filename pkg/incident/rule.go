package incident

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"portwatch/pkg/store"
)

// Rule is an accepted cause: a port and protocol, optionally narrowed to a
// process name and a local address. Port 0 is the host's connections as a
// whole (port exhaustion).
type Rule struct {
	Protocol string
	Port     int
	Process  string // "" matches any
	Address  string // "" matches any
}

// Match reports whether k is a cause r accepts. A key naming several
// processes or addresses (comma-separated) matches when one of them does.
func (r Rule) Match(k Key) bool {
	return r.Protocol == k.Protocol && r.Port == k.Port && among(r.Process, k.Process) && among(r.Address, k.Address)
}

// among reports whether a rule's field v matches a key's field of
// comma-separated values: v empty, all of them, or one of them.
func among(v, values string) bool {
	return v == "" || v == values || slices.Contains(strings.Split(values, ","), v)
}

// String is the rule in the allow-list format.
func (r Rule) String() string {
	s := fmt.Sprintf("%d/%s", r.Port, r.Protocol)
	if r.Process != "" {
		s += " process=" + r.Process
	}
	if r.Address != "" {
		s += " address=" + r.Address
	}
	return s
}

// RuleOf is the rule accepting exactly the key of an incident.
func RuleOf(k Key) Rule {
	return Rule{Protocol: k.Protocol, Port: k.Port, Process: k.Process, Address: k.Address}
}

// RuleOfAccept is a stored accepted row as a rule.
func RuleOfAccept(a store.Accept) Rule {
	return Rule{Protocol: a.Protocol, Port: a.Port, Process: a.Process, Address: a.Address}
}

// ParsePort parses "8443/tcp" (protocol tcp or udp; port 0 for connections).
func ParsePort(s string) (Rule, error) {
	num, proto, ok := strings.Cut(s, "/")
	port, err := strconv.Atoi(num)
	if !ok || err != nil || port < 0 || port > 65535 || (proto != "tcp" && proto != "udp") {
		return Rule{}, fmt.Errorf("port %q: want PORT/PROTOCOL such as 8443/tcp or 53/udp", s)
	}
	return Rule{Protocol: proto, Port: port}, nil
}

// ParseRule parses one allow-list line: "8443/tcp [process=NAME]
// [address=ADDR]", anything after '#' being a comment.
func ParseRule(line string) (Rule, error) {
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return Rule{}, fmt.Errorf("empty rule: want PORT/PROTOCOL [process=NAME] [address=ADDR]")
	}
	r, err := ParsePort(fields[0])
	if err != nil {
		return Rule{}, err
	}
	for _, f := range fields[1:] {
		name, val, _ := strings.Cut(f, "=")
		switch {
		case val == "":
			return Rule{}, fmt.Errorf("%q: want process=NAME or address=ADDR", f)
		case name == "process":
			r.Process = val
		case name == "address":
			r.Address = val
		default:
			return Rule{}, fmt.Errorf("%q: unknown field %q; want process= or address=", f, name)
		}
	}
	return r, nil
}

// ParseAllow reads an allow list: one rule per line (see ParseRule), blank
// lines and '#' comments ignored. An error names the line.
func ParseAllow(rd io.Reader) ([]Rule, error) {
	var rules []Rule
	sc := bufio.NewScanner(rd)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if strings.TrimSpace(line) == "" {
			continue
		}
		r, err := ParseRule(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		rules = append(rules, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return rules, nil
}

// accepted reports whether one of rules accepts k.
func accepted(rules []Rule, k Key) bool {
	return slices.ContainsFunc(rules, func(r Rule) bool { return r.Match(k) })
}
