#!/bin/sh
# tests/bench/deps.sh: what `make bench` needs beyond `make deps` (run by
# `make bench-deps`).  Kept out of `make deps` so `make check` never pulls
# in a mail server.
#
#   postfix      for smtp-sink (the SMTP server the bench sends to) and
#                smtp-source (the machine's SMTP limit).  Installed with the
#                debconf answer "No configuration": no main.cf, nothing
#                listens, and its service is never started.
#   nginx-light  the stub SMS provider (the bench runs its own nginx, with
#                its own config, on a loopback port); the system service is
#                not started and is disabled.
#   wrk          the HTTP limit of that stub.
#   time         /usr/bin/time, for peak RSS.
#
# While installing, a policy-rc.d answering 101 ("action forbidden") keeps
# maintainer scripts from starting either service; one that already exists
# (containers have one) is left as it is.  Debian's MTAs conflict: when
# installing postfix would remove a package (exim4, sendmail, ...), this
# script stops and says so instead, unless BENCH_DEPS_REMOVE_OK=1.
set -eu

PKGS="postfix nginx-light wrk time"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done

# A running postfix master or a system nginx: after our install, a service
# was started against our intent (an error); before it, only reported.
# Never killed here.
check_not_running() {
	bad=""
	for pid in $(ls /proc | grep -E '^[0-9]+$'); do
		exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
		case "$exe" in
		/usr/lib/postfix/sbin/master) bad="$bad postfix-master($pid)" ;;
		/usr/sbin/nginx)
			# The bench's own nginx runs with -c under a temporary directory.
			tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- ' -c /tmp/' ||
				bad="$bad nginx($pid)"
			;;
		esac
	done
	if [ -n "$bad" ]; then
		echo "bench-deps: system services are running:$bad" >&2
		echo "bench-deps: stop them (systemctl stop postfix nginx); the bench uses its own" >&2
		return 1
	fi
}

if [ -z "$missing" ]; then
	# Installed earlier (perhaps on purpose, for a real mail or web server):
	# the bench does not use them, so a running service is only reported.
	check_not_running || echo "bench-deps: (not started by this script; the bench runs its own)" >&2
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "bench-deps: missing packages:$missing; run as root:"
	echo "  echo 'postfix postfix/main_mailer_type select No configuration' | sudo debconf-set-selections"
	echo "  sudo apt-get install -y --no-install-recommends$missing"
	echo "  sudo systemctl disable --now postfix nginx"
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null

removes=$(apt-get install -s -y --no-install-recommends $missing | sed -n 's/^Remv \([^ ]*\).*/\1/p' | tr '\n' ' ')
if [ -n "$removes" ] && [ "${BENCH_DEPS_REMOVE_OK:-0}" != 1 ]; then
	echo "bench-deps: installing$missing would remove: $removes" >&2
	echo "bench-deps: (Debian's MTAs conflict); set BENCH_DEPS_REMOVE_OK=1 to allow it" >&2
	exit 1
fi

echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections

POLICY=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\n# bench-deps: no service starts while the bench tools install\nexit 101\n' >"$POLICY"
	chmod 0755 "$POLICY"
	own_policy=1
	trap 'rm -f "$POLICY"' EXIT INT TERM
fi

echo "bench-deps: installing$missing (services not started)"
apt-get install -y -q --no-install-recommends $missing >/dev/null

# Not started at the next boot either.
for svc in postfix nginx; do
	systemctl disable "$svc.service" >/dev/null 2>&1 ||
		update-rc.d "$svc" disable >/dev/null 2>&1 || true
done

if [ "$own_policy" = 1 ]; then
	rm -f "$POLICY"
	trap - EXIT INT TERM
fi
check_not_running
for t in /usr/sbin/smtp-sink /usr/sbin/smtp-source /usr/sbin/nginx /usr/bin/wrk; do
	[ -x "$t" ] || { echo "bench-deps: $t missing after install" >&2; exit 1; }
done
echo "bench-deps: ok"
