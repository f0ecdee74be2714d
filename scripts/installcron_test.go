// Package scripts holds the tests of the shell scripts users run directly.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCrontab writes a crontab stand-in that keeps the table in a file, so the
// script's own logic (markers, idempotence, leaving other lines alone) is what
// the test exercises, without touching the real user's crontab.
func fakeCrontab(t *testing.T) (cmd, table string) {
	t.Helper()
	dir := t.TempDir()
	table = filepath.Join(dir, "table")
	cmd = filepath.Join(dir, "crontab")
	script := `#!/bin/sh
case "$1" in
  -l) [ -f "` + table + `" ] || { echo "no crontab for $(id -un)" >&2; exit 1; }; cat "` + table + `" ;;
  -r) rm -f "` + table + `" ;;
  -) cat > "` + table + `" ;;
  *) echo "fake crontab: unexpected $*" >&2; exit 2 ;;
esac
`
	if err := os.WriteFile(cmd, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return cmd, table
}

func runCron(t *testing.T, crontab string, args ...string) string {
	t.Helper()
	c := exec.Command("bash", append([]string{"install-cron.sh"}, args...)...)
	c.Env = append(os.Environ(), "CRONTAB="+crontab)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("install-cron.sh %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestInstallCron(t *testing.T) {
	crontab, table := fakeCrontab(t)
	const other = "15 3 * * * /usr/bin/backup --nightly\n"
	if err := os.WriteFile(table, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--bin", "/opt/pw/bin", "--db", "/var/lib/pw/ports.db", "--log", t.TempDir()}

	runCron(t, crontab, args...)
	first, err := os.ReadFile(table)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		other,
		"*/1 * * * * /opt/pw/bin/collect -d /var/lib/pw/ports.db -r 55 -p",
		"0 * * * * /opt/pw/bin/detect -d /var/lib/pw/ports.db",
		"0 0 * * * /opt/pw/bin/cleanup -d /var/lib/pw/ports.db --keep 7d",
	} {
		if !strings.Contains(string(first), want) {
			t.Errorf("crontab after install lacks %q:\n%s", want, first)
		}
	}

	runCron(t, crontab, args...)
	second, _ := os.ReadFile(table)
	if string(second) != string(first) {
		t.Errorf("second install changed the crontab:\nfirst:\n%s\nsecond:\n%s", first, second)
	}

	printed := runCron(t, crontab, append(args, "--print")...)
	if !strings.Contains(string(first), strings.TrimSpace(printed)) {
		t.Errorf("--print shows\n%s\nbut installed\n%s", printed, first)
	}

	runCron(t, crontab, append(args, "--uninstall")...)
	after, _ := os.ReadFile(table)
	if string(after) != other {
		t.Errorf("after --uninstall got %q, want only the user's own line %q", after, other)
	}
}

func TestInstallCronDetectArgs(t *testing.T) {
	crontab, _ := fakeCrontab(t)
	printed := runCron(t, crontab, "--bin", "/opt/pw/bin", "--db", "/var/lib/pw/ports.db", "--log", "/var/log/pw",
		"--detect-args", "--syslog --metrics /var/lib/node_exporter/textfile/portwatch.prom", "--print")
	want := "0 * * * * /opt/pw/bin/detect -d /var/lib/pw/ports.db --syslog --metrics /var/lib/node_exporter/textfile/portwatch.prom >>/var/log/pw/detect.log 2>&1"
	if !strings.Contains(printed, want) {
		t.Errorf("--print shows\n%s\nwant the line\n%s", printed, want)
	}
}

func TestInstallCronRejectsUnknownArgument(t *testing.T) {
	crontab, _ := fakeCrontab(t)
	c := exec.Command("bash", "install-cron.sh", "--frobnicate")
	c.Env = append(os.Environ(), "CRONTAB="+crontab)
	out, err := c.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unknown argument --frobnicate") {
		t.Fatalf("got err %v, output %q; want a failure naming the argument", err, out)
	}
}
