package portscan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"portwatch/pkg/sock"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// skipUnlessLittleEndian skips tests on fixtures captured on a little-endian host: the kernel
// prints addresses in host byte order, and the parser decodes in this host's order.
func skipUnlessLittleEndian(t testing.TB) {
	t.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("fixtures were captured on a little-endian host")
	}
}

// entryString renders an entry as "proto family address port state inode" for comparisons.
func entryString(e entry) string {
	return fmt.Sprintf("%s %d %s %d %s %d", e.Protocol, e.Family, e.Address, e.Port, e.State, e.inode)
}

// loopbackWant is every socket in testdata/proc/loopback as entryString prints it, by table,
// checked against the ss.txt that ss printed at the same moment.
var loopbackWant = map[string][]string{
	"tcp": {
		"tcp 4 127.0.0.1 44293 listen 519391",
		"tcp 4 0.0.0.0 2024 listen 1069",
		"tcp 4 127.0.0.1 44293 fin-wait-2 0",
		"tcp 4 127.0.0.1 33488 established 519399",
		"tcp 4 127.0.0.1 44870 established 519392",
		"tcp 4 127.0.0.1 44872 close-wait 519394",
		"tcp 4 127.0.0.1 44888 time-wait 0",
		"tcp 4 127.0.0.1 44293 established 519393",
	},
	"tcp6": {
		"tcp 6 :: 35983 listen 519398",
		"tcp 6 ::1 58785 listen 519401",
		"tcp 6 ::1 58785 established 519403",
		"tcp 6 ::1 52622 established 519402",
		"tcp 6 ::ffff:127.0.0.1 35983 established 519400",
	},
	"udp": {
		"udp 4 0.0.0.0 60561 unconn 519405",
		"udp 4 127.0.0.1 52824 unconn 519404",
		"udp 4 127.0.0.1 40387 established 519406",
	},
	"udp6": {
		"udp 6 ::1 35867 unconn 519408",
		"udp 6 :: 41725 unconn 519407",
	},
}

// TestParseFixture parses the same moment's tables twice, from the /proc/net files and from the
// raw netlink sock_diag dumps, and wants the same sockets from both.
// checkErr fails the test unless err is nil and want "", or err's text contains want.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	got := ""
	if err != nil {
		got = err.Error()
	}
	if want == "" && err != nil || !strings.Contains(got, want) {
		t.Fatalf("got error %q, want %q", got, want)
	}
}

func TestParseFixture(t *testing.T) {
	skipUnlessLittleEndian(t)
	parsers := map[string]func(b []byte, proto sock.Protocol, family int) ([]entry, error){
		"net": func(b []byte, proto sock.Protocol, family int) ([]entry, error) {
			return parseNet(bytes.NewReader(b), proto, family, nil)
		},
		"sock_diag": func(b []byte, proto sock.Protocol, _ int) ([]entry, error) {
			entries, done, err := parseDiag(b, proto, nil)
			if err == nil && !done {
				err = errors.New("no NLMSG_DONE")
			}
			return entries, err
		},
	}
	for dir, parse := range parsers {
		for table, want := range loopbackWant {
			t.Run(dir+"/"+table, func(t *testing.T) {
				b := readFixture(t, dir, table)
				family := 4
				if strings.HasSuffix(table, "6") {
					family = 6
				}
				proto, err := sock.ParseProtocol(strings.TrimSuffix(table, "6"))
				if err != nil {
					t.Fatal(err)
				}
				entries, err := parse(b, proto, family)
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				var got []string
				for _, e := range entries {
					got = append(got, entryString(e))
				}
				slices.Sort(got) // the kernel lists the same sockets in another order over netlink
				want = slices.Sorted(slices.Values(want))
				if !slices.Equal(got, want) {
					t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		}
	}
}

func TestParseLine(t *testing.T) {
	skipUnlessLittleEndian(t)
	const v4 = "   1: 0100007F:8EF1 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 16313 1 000000004bc12b62 100 0 0 10 0"
	tests := []struct {
		name, line string
		family     int
		want       string // entryString, or the error's text
	}{
		{"captured ipv4", v4, 4, "tcp 4 127.0.0.1 36593 listen 16313"},
		{"lower-case hex", strings.ToLower(v4), 4, "tcp 4 127.0.0.1 36593 listen 16313"},
		{"wide slot, no padding", "10463: 00000000:8E7C 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 16327", 4,
			"tcp 4 0.0.0.0 36476 close 16327"},
		{"ipv4-mapped stays family 6", "3: 0000000000000000FFFF00000100007F:862D 0000000000000000FFFF00000100007F:CCB2 01 00000000:00000000 00:00000000 00000000 0 0 16322 1", 6,
			"tcp 6 ::ffff:127.0.0.1 34349 established 16322"},
		{"global ipv6 word order", "0: B80D0120000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 7 1", 6,
			"tcp 6 2001:db8::1 22 listen 7"},
		{"state a newer kernel added", strings.Replace(v4, " 0A ", " 0D ", 1), 4, "tcp 4 127.0.0.1 36593 unknown 16313"},
		{"max inode", strings.Replace(v4, " 16313 ", " 18446744073709551615 ", 1), 4, "tcp 4 127.0.0.1 36593 listen 18446744073709551615"},

		{"empty", "", 4, "0 fields, want at least 10"},
		{"truncated", "   1: 0100007F:8EF1 00000000:0000 0A 00000000:00000000", 4, "5 fields, want at least 10"},
		{"no slot colon", strings.Replace(v4, "1:", "1 ", 1), 4, `slot "1": want a number and a colon`},
		{"ipv6 address in ipv4 table", "3: 0000000000000000FFFF00000100007F:862D 0 01 0 0 0 0 0 1", 4, "want 8 hex digits, a colon and 4 hex digits"},
		{"ipv4 address in ipv6 table", v4, 6, "want 32 hex digits, a colon and 4 hex digits"},
		{"bad address hex", strings.Replace(v4, "0100007F", "0100007G", 1), 4, `local address "0100007G:8EF1": not hex`},
		{"bad port hex", strings.Replace(v4, ":8EF1", ":8EFX", 1), 4, "not hex"},
		{"short port", strings.Replace(v4, ":8EF1", ":8EF", 1), 4, "want 8 hex digits"},
		{"bad state", strings.Replace(v4, " 0A ", " 0Z ", 1), 4, `state "0Z": want 2 hex digits`},
		{"long state", strings.Replace(v4, " 0A ", " 00A ", 1), 4, `state "00A"`},
		{"negative inode", strings.Replace(v4, " 16313 ", " -1 ", 1), 4, `inode "-1": want a decimal number`},
		{"inode overflow", strings.Replace(v4, " 16313 ", " 18446744073709551616 ", 1), 4, `inode "18446744073709551616"`},
		{"inode leading zero", strings.Replace(v4, " 16313 ", " 016313 ", 1), 4, `inode "016313"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := parseLine([]byte(tt.line), sock.TCP, tt.family)
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = entryString(e)
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseNetErrorNamesLine(t *testing.T) {
	in := "  sl  local_address rem_address   st\n" +
		"   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1069 1\n" +
		"\n" +
		"   1: 00000000:07E8 00000000:0000 0A\n"
	entries, err := parseNet(strings.NewReader(in), sock.TCP, 4, nil)
	if err == nil {
		t.Fatalf("got %d entries and no error, want an error", len(entries))
	}
	if got, want := err.Error(), "line 4: 4 fields"; !strings.HasPrefix(got, want) {
		t.Errorf("got %q, want prefix %q", got, want)
	}
	if len(entries) != 1 {
		t.Errorf("got %d entries before the bad line, want 1", len(entries))
	}
}

func TestParseNetTooLongLine(t *testing.T) {
	in := "  sl\n" + strings.Repeat("x", 70000) + "\n"
	_, err := parseNet(strings.NewReader(in), sock.TCP, 4, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "line 2: ") {
		t.Errorf("got %v, want an error naming line 2", err)
	}
}

func TestSocketInode(t *testing.T) {
	tests := []struct {
		link  string
		want  uint64
		valid bool
	}{
		{"socket:[16313]", 16313, true},
		{"socket:[0]", 0, true},
		{"pipe:[16277]", 0, false},
		{"/dev/null", 0, false},
		{"socket:[16313", 0, false},
		{"socket:[]", 0, false},
		{"socket:[0x10]", 0, false},
		{"anon_inode:[eventpoll]", 0, false},
	}
	for _, tt := range tests {
		got, ok := socketInode([]byte(tt.link))
		if got != tt.want || ok != tt.valid {
			t.Errorf("socketInode(%q) = %d, %v; want %d, %v", tt.link, got, ok, tt.want, tt.valid)
		}
	}
}

// readFixture returns a table of the loopback fixture: dir "net" or "sock_diag", table "tcp",
// "tcp6", "udp" or "udp6".
func readFixture(tb testing.TB, dir, table string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/proc/loopback", dir, table))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// encodeAddrPort is the kernel's side of parseAddrPort, for round trips.
func encodeAddrPort(a netip.Addr, port uint16) string {
	var sb strings.Builder
	b := a.AsSlice()
	for i := 0; i < len(b); i += 4 {
		fmt.Fprintf(&sb, "%08X", binary.NativeEndian.Uint32(b[i:]))
	}
	fmt.Fprintf(&sb, ":%04X", port)
	return sb.String()
}

func FuzzParseLine(f *testing.F) {
	for _, table := range []string{"tcp", "tcp6", "udp", "udp6"} {
		for _, l := range strings.Split(string(readFixture(f, "net", table)), "\n") {
			f.Add(l, strings.HasSuffix(table, "6"))
		}
	}
	f.Fuzz(func(t *testing.T, line string, v6 bool) {
		family := 4
		if v6 {
			family = 6
		}
		e, err := parseLine([]byte(line), sock.UDP, family)
		if err != nil {
			return
		}
		if e.Family != family || e.Address.Is4() != (family == 4) || e.Protocol != sock.UDP || e.State > sock.Unconn {
			t.Fatalf("parseLine(%q) = %+v: inconsistent", line, e)
		}
		fields := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' })
		if got := encodeAddrPort(e.Address, e.Port); !strings.EqualFold(got, fields[1]) {
			t.Errorf("re-encoded local address %s, want %s", got, fields[1])
		}
		if got := strconv.FormatUint(e.inode, 10); got != fields[9] {
			t.Errorf("re-encoded inode %s, want %s", got, fields[9])
		}
	})
}

func FuzzParseNet(f *testing.F) {
	for _, table := range []string{"tcp", "tcp6", "udp", "udp6"} {
		f.Add(readFixture(f, "net", table), strings.HasSuffix(table, "6"))
	}
	f.Fuzz(func(t *testing.T, data []byte, v6 bool) {
		family := 4
		if v6 {
			family = 6
		}
		entries, err := parseNet(bytes.NewReader(data), sock.TCP, family, nil)
		if err != nil && !strings.HasPrefix(err.Error(), "line ") {
			t.Errorf("error %q does not name the line", err)
		}
		if lines := bytes.Count(data, []byte("\n")) + 1; len(entries) > lines {
			t.Errorf("got %d entries from %d lines", len(entries), lines)
		}
	})
}

func FuzzSocketInode(f *testing.F) {
	f.Add("socket:[16313]")
	f.Add("pipe:[16277]")
	f.Add("socket:[18446744073709551615]")
	f.Fuzz(func(t *testing.T, link string) {
		inode, ok := socketInode([]byte(link))
		if !ok {
			return
		}
		if got := "socket:[" + strconv.FormatUint(inode, 10) + "]"; got != link {
			t.Errorf("socketInode(%q) = %d, which prints as %q", link, inode, got)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	skipUnlessLittleEndian(b)
	data := readFixture(b, "net", "tcp")
	r := bytes.NewReader(data)
	var entries []entry
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(data)
		var err error
		entries, err = parseNet(r, sock.TCP, 4, entries[:0])
		if err != nil {
			b.Fatal(err)
		}
	}
}
