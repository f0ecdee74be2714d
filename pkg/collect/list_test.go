package collect_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"regexp"
	"testing"

	"portwatch/pkg/collect"
)

// TestListOtherNamespace lists a TCP listener that python3 opens inside `unshare -n`, with its
// owner and namespace: the listener issue 13 found missing.
func TestListOtherNamespace(t *testing.T) {
	for _, tool := range []string{"unshare", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	cmd := exec.Command("unshare", "-n", "python3", "-c",
		"import socket,sys\ns=socket.socket(socket.AF_INET6)\ns.bind(('::',0))\ns.listen()\n"+
			"print(s.getsockname()[1],flush=True)\nsys.stdin.read()")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	var port int
	if _, err := fmt.Fscan(bufio.NewReader(stdout), &port); err != nil {
		cmd.Wait()
		t.Skipf("unshare -n not permitted here: %v: %s", err, stderr.Bytes())
	}
	o := liveOptions(t)
	var out bytes.Buffer
	if err := collect.List(t.Context(), o, &out, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	// tcp 6 :: PORT listen PID python3 NETNS -: a namespace of its own, not the host's.
	row := regexp.MustCompile(fmt.Sprintf(`(?m)^tcp +6 +:: +%d +listen +%d +python3 +(\d+) +- *$`, port, cmd.Process.Pid))
	if !row.Match(out.Bytes()) {
		t.Errorf("no row for python3's [::]:%d listener in its own namespace in\n%s", port, out.Bytes())
	}
}
