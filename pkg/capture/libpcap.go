package capture

// libpcap is opened with dlopen when the first live capture starts, not linked: a linked
// libpcap makes the dynamic loader map it and its nine libraries (dbus, systemd, gcrypt, ...)
// at every start, about 1.4 ms, a tenth of `collect --list`'s whole run (issue 14), which
// never captures. The header gives the types only; no libpcap symbol is referenced.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <pcap/pcap.h>

static struct {
	pcap_t *(*open_dead)(int, int);
	pcap_t *(*create)(const char *, char *);
	int (*set_snaplen)(pcap_t *, int);
	int (*set_promisc)(pcap_t *, int);
	int (*set_timeout)(pcap_t *, int);
	int (*set_immediate_mode)(pcap_t *, int);
	int (*set_tstamp_precision)(pcap_t *, int);
	int (*get_tstamp_precision)(pcap_t *);
	int (*activate)(pcap_t *);
	int (*setnonblock)(pcap_t *, int, char *);
	int (*get_selectable_fd)(pcap_t *);
	char *(*geterr)(pcap_t *);
	const char *(*statustostr)(int);
	int (*lookupnet)(const char *, bpf_u_int32 *, bpf_u_int32 *, char *);
	int (*compile)(pcap_t *, struct bpf_program *, const char *, int, bpf_u_int32);
	void (*freecode)(struct bpf_program *);
	int (*setfilter)(pcap_t *, struct bpf_program *);
	int (*datalink)(pcap_t *);
	int (*next_ex)(pcap_t *, struct pcap_pkthdr **, const u_char **);
	int (*stats)(pcap_t *, struct pcap_stat *);
	void (*close)(pcap_t *);
} pw;

// pw_load opens libpcap and finds its functions; NULL, or what failed.
static const char *pw_load(void) {
	// Debian's soname first, then the upstream one, then the development link.
	static const char *names[] = {"libpcap.so.0.8", "libpcap.so.1", "libpcap.so", NULL};
	void *h = NULL;
	for (int i = 0; names[i] != NULL && h == NULL; i++) {
		h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	}
	if (h == NULL) {
		return dlerror();
	}
#define PW_SYM(f) if ((*(void **)&pw.f = dlsym(h, "pcap_" #f)) == NULL) return dlerror();
	PW_SYM(open_dead) PW_SYM(create) PW_SYM(set_snaplen) PW_SYM(set_promisc) PW_SYM(set_timeout)
	PW_SYM(set_immediate_mode) PW_SYM(set_tstamp_precision) PW_SYM(get_tstamp_precision)
	PW_SYM(activate) PW_SYM(setnonblock) PW_SYM(get_selectable_fd) PW_SYM(geterr) PW_SYM(statustostr) PW_SYM(lookupnet) PW_SYM(compile)
	PW_SYM(freecode) PW_SYM(setfilter) PW_SYM(datalink) PW_SYM(next_ex) PW_SYM(stats) PW_SYM(close)
	return NULL;
}

// Go cannot call C function pointers: one wrapper for each.
static pcap_t *pw_open_dead(int l, int s) { return pw.open_dead(l, s); }
static pcap_t *pw_create(const char *d, char *e) { return pw.create(d, e); }
static int pw_set_snaplen(pcap_t *p, int v) { return pw.set_snaplen(p, v); }
static int pw_set_promisc(pcap_t *p, int v) { return pw.set_promisc(p, v); }
static int pw_set_timeout(pcap_t *p, int v) { return pw.set_timeout(p, v); }
static int pw_set_immediate_mode(pcap_t *p, int v) { return pw.set_immediate_mode(p, v); }
static int pw_set_tstamp_precision(pcap_t *p, int v) { return pw.set_tstamp_precision(p, v); }
static int pw_get_tstamp_precision(pcap_t *p) { return pw.get_tstamp_precision(p); }
static int pw_activate(pcap_t *p) { return pw.activate(p); }
static int pw_setnonblock(pcap_t *p, char *e) { return pw.setnonblock(p, 1, e); }
static int pw_get_selectable_fd(pcap_t *p) { return pw.get_selectable_fd(p); }
// pw_wait waits up to ms for fd to be readable: 0 when interrupted, which the caller retries.
static int pw_wait(int fd, int ms) {
	struct pollfd f = {fd, POLLIN, 0};
	int r = poll(&f, 1, ms);
	return (r < 0 && errno == EINTR) ? 0 : r;
}
static char *pw_geterr(pcap_t *p) { return pw.geterr(p); }
static const char *pw_statustostr(int s) { return pw.statustostr(s); }
static int pw_lookupnet(const char *d, bpf_u_int32 *n, bpf_u_int32 *m, char *e) { return pw.lookupnet(d, n, m, e); }
static int pw_compile(pcap_t *p, struct bpf_program *f, const char *s, int o, bpf_u_int32 m) { return pw.compile(p, f, s, o, m); }
static void pw_freecode(struct bpf_program *f) { pw.freecode(f); }
static int pw_setfilter(pcap_t *p, struct bpf_program *f) { return pw.setfilter(p, f); }
static int pw_datalink(pcap_t *p) { return pw.datalink(p); }
static int pw_next_ex(pcap_t *p, struct pcap_pkthdr **h, const u_char **d) { return pw.next_ex(p, h, d); }
static int pw_stats(pcap_t *p, struct pcap_stat *s) { return pw.stats(p, s); }
static void pw_close(pcap_t *p) { pw.close(p); }
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"
)

// loadLibpcap opens libpcap once per process, as the dynamic loader would have.
var loadLibpcap = sync.OnceValue(func() error {
	if msg := C.pw_load(); msg != nil {
		return fmt.Errorf("load libpcap (Debian: apt-get install libpcap0.8): %s", C.GoString(msg))
	}
	return nil
})

// pcapHandle is a libpcap capture handle, inactive until activate.
type pcapHandle struct {
	p *C.pcap_t
	// Where pcap_next_ex puts the next packet: fields, so a read allocates nothing.
	hdr     *C.struct_pcap_pkthdr
	data    *C.u_char
	nano    bool          // timestamps in nanoseconds, not microseconds
	fd      C.int         // polled for the next packet
	timeout time.Duration // how long next waits
}

// compileFilter checks a filter on an Ethernet link of snaplen bytes, no device needed.
func compileFilter(filter string, snaplen int) error {
	if err := loadLibpcap(); err != nil {
		return err
	}
	p := C.pw_open_dead(C.DLT_EN10MB, C.int(snaplen))
	if p == nil {
		return errors.New("pcap_open_dead failed")
	}
	defer C.pw_close(p)
	return compileOn(p, filter, C.PCAP_NETMASK_UNKNOWN, nil)
}

// compileOn compiles filter on p and, when set is not nil, passes the program to it.
func compileOn(p *C.pcap_t, filter string, mask C.bpf_u_int32, set func(*C.struct_bpf_program) C.int) error {
	cf := C.CString(filter)
	defer C.free(unsafe.Pointer(cf))
	var prog C.struct_bpf_program
	if C.pw_compile(p, &prog, cf, 1, mask) < 0 {
		return errors.New(C.GoString(C.pw_geterr(p)))
	}
	defer C.pw_freecode(&prog)
	if set != nil && set(&prog) < 0 {
		return errors.New(C.GoString(C.pw_geterr(p)))
	}
	return nil
}

// newPcapHandle is pcap_create: a handle on device, to set up and activate.
func newPcapHandle(device string) (*pcapHandle, error) {
	if err := loadLibpcap(); err != nil {
		return nil, err
	}
	cd := C.CString(device)
	defer C.free(unsafe.Pointer(cd))
	errbuf := (*C.char)(C.calloc(C.PCAP_ERRBUF_SIZE, 1))
	defer C.free(unsafe.Pointer(errbuf))
	p := C.pw_create(cd, errbuf)
	if p == nil {
		return nil, errors.New(C.GoString(errbuf))
	}
	return &pcapHandle{p: p}, nil
}

// configure sets what OpenLive needs before activation. Nanosecond timestamps are
// asked for and may be refused; timestampPrecision says what was granted.
func (h *pcapHandle) configure(snaplen int, promisc bool, timeout time.Duration) error {
	h.timeout = timeout
	C.pw_set_tstamp_precision(h.p, C.PCAP_TSTAMP_PRECISION_NANO)
	for _, rc := range []C.int{
		C.pw_set_snaplen(h.p, C.int(snaplen)),
		C.pw_set_promisc(h.p, boolInt(promisc)),
		C.pw_set_timeout(h.p, C.int(timeout.Milliseconds())),
		// Packets are handed over as they come, not when a buffer fills:
		// a short round must see its packets.
		C.pw_set_immediate_mode(h.p, 1),
	} {
		if rc != 0 {
			return errors.New(C.GoString(C.pw_statustostr(rc)))
		}
	}
	return nil
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// activate starts the capture. permission says the refusal was for want of privilege.
// Warnings (a positive status, e.g. promiscuous mode not supported) do not stop it.
func (h *pcapHandle) activate() (permission bool, err error) {
	rc := C.pw_activate(h.p)
	if rc >= 0 {
		h.nano = C.pw_get_tstamp_precision(h.p) == C.PCAP_TSTAMP_PRECISION_NANO
		// Non-blocking, and next polls: in immediate mode on Linux, libpcap's own read
		// timeout waits for a first packet forever.
		errbuf := (*C.char)(C.calloc(C.PCAP_ERRBUF_SIZE, 1))
		defer C.free(unsafe.Pointer(errbuf))
		if C.pw_setnonblock(h.p, errbuf) < 0 {
			return false, errors.New(C.GoString(errbuf))
		}
		if h.fd = C.pw_get_selectable_fd(h.p); h.fd < 0 {
			return false, errors.New("no selectable descriptor to wait on")
		}
		return false, nil
	}
	msg := C.GoString(C.pw_statustostr(rc))
	if detail := C.GoString(C.pw_geterr(h.p)); detail != "" {
		msg += ": " + detail
	}
	return rc == C.PCAP_ERROR_PERM_DENIED || rc == C.PCAP_ERROR_PROMISC_PERM_DENIED, errors.New(msg)
}

// setFilter compiles filter for the active handle with device's netmask, where it has one
// (for "ip broadcast"), and installs it.
func (h *pcapHandle) setFilter(device, filter string) error {
	mask := C.bpf_u_int32(C.PCAP_NETMASK_UNKNOWN)
	cd := C.CString(device)
	defer C.free(unsafe.Pointer(cd))
	errbuf := (*C.char)(C.calloc(C.PCAP_ERRBUF_SIZE, 1))
	defer C.free(unsafe.Pointer(errbuf))
	var net, m C.bpf_u_int32
	if C.pw_lookupnet(cd, &net, &m, errbuf) == 0 {
		mask = m
	}
	return compileOn(h.p, filter, mask, func(prog *C.struct_bpf_program) C.int {
		return C.pw_setfilter(h.p, prog)
	})
}

func (h *pcapHandle) linkType() uint32 { return uint32(C.pw_datalink(h.p)) }

// next is the next packet: its bytes (libpcap's buffer, valid until the next call), when it
// was captured and its length on the wire; ErrTimeout when none came within the timeout.
func (h *pcapHandle) next() (data []byte, at time.Time, length int, err error) {
	var deadline time.Time // set at the first empty read: a busy link reads without the clock
	for {
		rc := C.pw_next_ex(h.p, &h.hdr, &h.data)
		if rc == 1 {
			break
		}
		if rc < 0 {
			return nil, time.Time{}, 0, errors.New(C.GoString(C.pw_geterr(h.p)))
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(h.timeout)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, time.Time{}, 0, ErrTimeout
		}
		if rc, err := C.pw_wait(h.fd, C.int(left.Milliseconds()+1)); rc < 0 {
			return nil, time.Time{}, 0, fmt.Errorf("wait for a packet: %w", err)
		}
	}
	frac := int64(h.hdr.ts.tv_usec)
	if !h.nano {
		frac *= 1000
	}
	data = unsafe.Slice((*byte)(unsafe.Pointer(h.data)), int(h.hdr.caplen))
	return data, time.Unix(int64(h.hdr.ts.tv_sec), frac), int(h.hdr.len), nil
}

// dropped is the kernel's and the interface's drop count so far.
func (h *pcapHandle) dropped() (int64, error) {
	var st C.struct_pcap_stat
	if C.pw_stats(h.p, &st) < 0 {
		return 0, errors.New(C.GoString(C.pw_geterr(h.p)))
	}
	return int64(st.ps_drop) + int64(st.ps_ifdrop), nil
}

func (h *pcapHandle) close() { C.pw_close(h.p) }
