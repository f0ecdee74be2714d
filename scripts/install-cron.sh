#!/usr/bin/env bash
# Installs portwatch's three crontab lines for the current user, idempotently.
#
#   scripts/install-cron.sh [--bin DIR] [--db FILE] [--log DIR] [--detect-args ARGS] [--print | --uninstall]
#
# The lines carry absolute paths and send each program's log to its own file.
# They are kept between two marker comments, so running the script again
# replaces them in place (twice changes nothing) and --uninstall removes
# exactly them, leaving the rest of the crontab alone. CRONTAB names the
# crontab command (tests point it at a file-backed stand-in). --detect-args
# (default $PORTWATCH_DETECT_ARGS) is appended to the detect line as written,
# e.g. "--syslog --metrics /var/lib/node_exporter/textfile/portwatch.prom".
set -euo pipefail
crontab=${CRONTAB:-crontab}

here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/bin"
db="$here/var/ports.db"
log="$here/var/log"
mode=install
detect_args=${PORTWATCH_DETECT_ARGS:-}

usage() { sed -n '2,12s/^# \{0,1\}//p' "$0" >&2; exit 2; }
while (($#)); do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --db) db=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --detect-args) detect_args=$2; shift 2 ;;
    --print) mode=print; shift ;;
    --uninstall) mode=uninstall; shift ;;
    -h|--help) usage ;;
    *) echo "install-cron.sh: unknown argument $1" >&2; usage ;;
  esac
done
abs() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
bin=$(abs "$bin"); db=$(abs "$db"); log=$(abs "$log")

begin='# >>> portwatch (scripts/install-cron.sh) >>>'
end='# <<< portwatch <<<'
block() {
  cat <<EOT
$begin
*/1 * * * * $bin/collect -d $db -r 55 -p --best-effort >>$log/collect.log 2>&1
0 * * * * $bin/detect -d $db${detect_args:+ $detect_args} >>$log/detect.log 2>&1
0 0 * * * $bin/cleanup -d $db --keep 7d >>$log/cleanup.log 2>&1
$end
EOT
}

if [[ $mode == print ]]; then
  block
  exit 0
fi

command -v "$crontab" >/dev/null || { echo "install-cron.sh: crontab not found (Debian: apt-get install cron)" >&2; exit 1; }
current=$("$crontab" -l 2>/dev/null || true)
# The crontab without our block: everything outside the markers.
rest=$(printf '%s\n' "$current" | awk -v b="$begin" -v e="$end" '$0==b{skip=1;next} $0==e{skip=0;next} !skip')
rest=$(printf '%s\n' "$rest" | sed -e '/./,$!d')  # drop leading blank lines

if [[ $mode == uninstall ]]; then
  if [[ -z ${rest//[$'\n ']/} ]]; then "$crontab" -r 2>/dev/null || true; else printf '%s\n' "$rest" | "$crontab" -; fi
  echo "portwatch crontab lines removed"
  exit 0
fi

for b in collect detect cleanup; do
  [[ -x $bin/$b ]] || echo "install-cron.sh: warning: $bin/$b is not built yet (make build)" >&2
done
mkdir -p "$log" "$(dirname "$db")"
{ [[ -n ${rest//[$'\n ']/} ]] && printf '%s\n' "$rest"; block; } | "$crontab" -
echo "portwatch crontab lines installed for $(id -un):"
block
