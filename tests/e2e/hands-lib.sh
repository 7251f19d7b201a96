#!/bin/bash
# hands-lib.sh: the NetworkManager half of the e2e plumbing (issue 10, docs/wifi.md): hands-free
# takeovers, where sonota-c in its default --wifi mode hops the laptop's WiFi itself through
# the NM mock (tests/nm/nmmock.py) and nobody moves an address by hand.
#
# Source it after lib.sh, then call e2e_init, e2e_netns_setup and e2e_nm_start:
#   . tests/e2e/lib.sh; . tests/e2e/hands-lib.sh
#
# How the two worlds are joined (docs/testing.md, "Hands-free"):
#   devsim --hook (lib.sh's _e2e_hook): the DEV side as always (10.10.7.1, 192.168.4.1, the
#     device's home address); the SRV side is no longer played: the radio's view changes
#     instead: ap-up -> the mock's AddAP(ITEAD-<id>, WPA2, PSK 12345678, BSSID
#     e2e_dev_bssid ID, lease 10.10.7.2/24); ap-down -> RemoveBSS(ITEAD-<id>, BSSID);
#     finalstage-up -> AddAP(FinalStage, open, the same BSSID, lease 192.168.4.2/24);
#     finalstage-down -> RemoveBSS(FinalStage, BSSID); final-assoc (E2A asks before each
#     probe whether the radio is on its FinalStage) -> yes only when the mock's last
#     FinalStage activation is that device's BSSID: several devices' FinalStage may be up
#     at once in the one DEV namespace, and only the one joined may reach 192.168.4.2.
#   the mock's activation hook (_e2e_nm_addr): an activation that reaches ACTIVATED adds its
#     lease to SRV's e2e0, its teardown removes it; the saved "Home" profile (SSID e2e-home)
#     leases the laptop's home address 192.168.77.5/24. So joining ITEAD-<id> (which replaces
#     Home: NEW_ACTIVATION) takes the home address away and gives 10.10.7.2, as a real radio
#     does, and the device's AP going away brings Home back by NM's autoconnect.
#   sonota-c's netlink monitor sees those address moves exactly as with manual hops.
# Several devsim devices may run; each has its own soft-AP BSSID (e2e_dev_bssid).
#
# The private system bus (dbus-daemon, a path socket $E2E_WORK/nm/bus, never the machine's bus)
# and the mock run inside SRV, so lib.sh's cleanup and guardian kill them with the namespace.
#
# Public functions:
#   e2e_nm_require            exit 77 unless dbus-daemon, dbus-send and Debian's python3-dbusmock
#   e2e_nm_start [K=V...]     the bus and the mock (Home active), devsim's hook switched to NM;
#                             K=V: delay_ms=N (association time), autoconnect_delay_ms=N,
#                             wifi_iface=IF (two interfaces, issue 10 item 5: the home link
#                             is SRV's $E2E_IF, a wired device the mock never activates; the
#                             mock's only WiFi device is IF, a macvlan on $E2E_IF made here,
#                             idle, no saved WiFi profile; activations move addresses on IF)
#   e2e_nm_stop_mock          kill the mock (NetworkManager stops)
#   e2e_nm_start_mock         start it again (NM restarts: Home active, fresh state)
#   e2e_nm_manual             from now on devsim's hook plays the SRV hops by hand (lib.sh)
#   e2e_nm_itead_extra ID JSON   extra fields of ITEAD-<ID> in the mock (e.g. '"psk": "x"')
#   e2e_nm_hide_finalstage    the radio never sees any FinalStage (out of range)
#   e2e_nm_py CODE            python with `bus`, `dump()` (the mock's Dump) and `fail(msg)`
#   e2e_nm_call METHOD ARGS   a dbus-send call of the mock's test interface
#   e2e_dev_bssid ID          the soft-AP MAC of device ID (its ITEAD-<id> and its FinalStage)
# Assertions (e2e_fail on a miss):
#   e2e_nm_expect_home        Home active in the mock; SRV has exactly the home address
#   e2e_nm_expect_clean       no sonota-* profile left; Device.Autoconnect never written
#   e2e_nm_expect_joins ID [N_FINAL]  ITEAD-<ID> and FinalStage were joined with volatile,
#                             client-bound sonota-* profiles, FinalStage by the ITEAD BSSID
#                             with 192.168.4.2/24 (N_FINAL activations, default 1)
#   e2e_nm_expect_hop_latency LOG MAX_MS   every hop line of sonota-c's debug log follows the
#                             transition that called for it within MAX_MS, and every such
#                             transition has its hop line

E2E_NM_HOME_SSID=e2e-home		# the saved home network (also --wifi-ssid of the takeovers)
E2E_NM_HOME_ID=Home			# its profile id in the mock
E2E_NM_ITEAD_PSK=12345678		# every ITEAD-<id> pairing AP (PROTOCOL.md §1.2)
E2E_NM_BSSID_OUI=D8:F1:5B		# an ITEAD OUI; the rest comes from the deviceid
E2E_NM_STEP_S=10			# the bus or the mock must be up within this
E2E_NM_BOUND=${E2E_NM_BOUND:-110}	# the bus's and the mock's process bound (s)
E2E_NM_PY=/usr/bin/python3		# Debian's python with python3-dbusmock, never one from PATH
_E2E_NM_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_E2E_NM_MOCK="$_E2E_NM_HERE/../nm/nmmock.py"

e2e_nm_require()
{
	local t
	for t in dbus-daemon dbus-send; do
		command -v "$t" >/dev/null 2>&1 ||
			{ echo "e2e: SKIP: no $t (scripts/setup.sh installs dbus)" >&2; exit 77; }
	done
	"$E2E_NM_PY" -c 'import dbusmock' 2>/dev/null ||
		{ echo "e2e: SKIP: no python3-dbusmock (scripts/setup.sh installs it)" >&2; exit 77; }
}

# The bus address; the socket is a path (an abstract socket would not cross namespaces).
_e2e_nm_env()
{
	export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$E2E_WORK/nm/bus"
}

e2e_dev_bssid()
{
	local id="$1"
	id=${id: -6}
	echo "$E2E_NM_BSSID_OUI:${id:0:2}:${id:2:2}:${id:4:2}" | tr 'a-f' 'A-F'
}

# e2e_nm_call METHOD ARGS...: the mock's test interface (org.freedesktop.DBus.Mock), waiting
# for the reply (so the mock has acted when it returns).
e2e_nm_call()
{
	local m="$1"
	shift
	_e2e_nm_env
	dbus-send --system --print-reply=literal --reply-timeout=10000 \
		--dest=org.freedesktop.NetworkManager /org/freedesktop \
		"org.freedesktop.DBus.Mock.$m" "$@"
}

e2e_nm_py()
{
	_e2e_nm_env
	"$E2E_NM_PY" - <<PY
import json, sys, time
import dbus
bus = dbus.SystemBus()
def dump():
    o = bus.get_object('org.freedesktop.NetworkManager', '/org/freedesktop')
    return json.loads(o.Dump(dbus_interface='org.freedesktop.DBus.Mock'))
def fail(msg):
    print('FAIL:', msg)
    sys.exit(1)
$1
PY
}

_e2e_nm_owned()
{
	_e2e_nm_env
	dbus-send --system --print-reply=literal --reply-timeout=2000 --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
		string:org.freedesktop.NetworkManager 2>/dev/null | grep -q true
}

# The mock's activation hook: `HOOK up|down SSID CIDR` moves CIDR on SRV's veth.
_e2e_nm_hook_write()
{
	local file="$1"
	cat >"$file" <<EOF
#!/bin/bash
# Generated by tests/e2e/hands-lib.sh for run $E2E_ID: the NM mock's activation hook.
E2E_LIB='$_E2E_NM_HERE/lib.sh'
E2E_ID='$E2E_ID'
E2E_NAME='$E2E_NAME'
E2E_WORK='$E2E_WORK'
E2E_LOGS='$E2E_LOGS'
NS_SRV='$NS_SRV'
NS_DEV='$NS_DEV'
. "\$E2E_LIB"
. '$_E2E_NM_HERE/hands-lib.sh'
_e2e_nm_addr "\$@"
EOF
	chmod 755 "$file"
}

_e2e_nm_addr()
{
	local what="$1" ssid="$2" cidr="${3:-}" bssid="${4:-}" rc=0 dev="$E2E_IF"
	[ -n "$cidr" ] || return 0
	[ -r "$E2E_WORK/nm/wifi-if" ] && dev=$(cat "$E2E_WORK/nm/wifi-if")
	case "$what" in
	up)
		e2e_ip "$NS_SRV" addr replace "$cidr" dev "$dev" || rc=1
		# whose FinalStage the radio is on: devsim's E2A asks (final-assoc)
		[ "$ssid" = FinalStage ] && echo "$bssid" >"$E2E_WORK/nm/assoc"
		;;
	down)
		e2e_ip "$NS_SRV" addr del "$cidr" dev "$dev" 2>/dev/null
		[ "$ssid" = FinalStage ] && rm -f "$E2E_WORK/nm/assoc"
		;;
	*) rc=1 ;;
	esac
	echo "$(date +%T.%N | cut -c1-12) $what $ssid $cidr $([ $rc = 0 ] && echo ok || echo FAIL)" \
		>>"$E2E_LOGS/nm-hook.log"
	return "$rc"
}

# e2e_nm_start [delay_ms=N] [autoconnect_delay_ms=N]
e2e_nm_start()
{
	local delay=150 acdelay=200 kv wifi_if=''
	for kv in "$@"; do
		case "$kv" in
		delay_ms=*) delay=${kv#*=} ;;
		autoconnect_delay_ms=*) acdelay=${kv#*=} ;;
		wifi_iface=*) wifi_if=${kv#*=} ;;
		*) e2e_fail "e2e_nm_start: unknown parameter $kv" ;;
		esac
	done
	mkdir -p "$E2E_WORK/nm"
	_e2e_nm_hook_write "$E2E_WORK/nm/addr-hook.sh"
	cat >"$E2E_WORK/nm/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$E2E_WORK/nm/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_type="*"/>
    <allow send_type="*"/>
  </policy>
</busconfig>
CONF
	e2e_start nm-bus "$NS_SRV" "$E2E_NM_BOUND" -- dbus-daemon \
		--config-file="$E2E_WORK/nm/bus.conf" --nofork
	local i
	for ((i = 0; i < E2E_NM_STEP_S * 20; i++)); do
		[ -S "$E2E_WORK/nm/bus" ] && break
		sleep 0.05
	done
	[ -S "$E2E_WORK/nm/bus" ] || e2e_fail "the private system bus did not start"
	_e2e_nm_env
	# The laptop's radio: one managed WiFi device on SRV's veth, home in range and active.
	E2E_NM_PARAMS=$(cat <<JSON
{"version": "1.42.4", "devices": [{"iface": "$E2E_IF", "hw": "02:00:00:00:0E:2E"}],
 "delay_ms": $delay, "autoconnect_delay_ms": $acdelay,
 "aps": [{"ssid": "$E2E_NM_HOME_SSID", "psk": "e2e-home-psk", "dhcp": "$E2E_HOME_SRV",
          "bssid": "02:77:77:00:00:05", "strength": 80}],
 "profiles": [{"id": "$E2E_NM_HOME_ID", "ssid": "$E2E_NM_HOME_SSID", "psk": "e2e-home-psk",
               "timestamp": 100}],
 "active": "$E2E_NM_HOME_ID", "hook": "$E2E_WORK/nm/addr-hook.sh"}
JSON
)
	if [ -n "$wifi_if" ]; then
		# a second adapter: a macvlan on the veth, so its addresses reach DEV too
		e2e_ip "$NS_SRV" link add "$wifi_if" link "$E2E_IF" type macvlan mode bridge ||
			e2e_fail "could not make $wifi_if in SRV"
		e2e_ip "$NS_SRV" link set "$wifi_if" up || e2e_fail "could not bring $wifi_if up"
		echo "$wifi_if" >"$E2E_WORK/nm/wifi-if"
		E2E_NM_PARAMS=$(cat <<JSON
{"version": "1.42.4", "devices": [{"iface": "$E2E_IF", "type": 1, "hw": "02:00:00:00:0E:2E"},
                                  {"iface": "$wifi_if", "hw": "02:00:00:00:0E:2F"}],
 "delay_ms": $delay, "autoconnect_delay_ms": $acdelay, "aps": [], "profiles": [],
 "hook": "$E2E_WORK/nm/addr-hook.sh"}
JSON
)
	fi
	e2e_nm_start_mock
	touch "$E2E_WORK/nm/on"
}

e2e_nm_start_mock()
{
	_e2e_nm_env
	e2e_start nm-mock "$NS_SRV" "$E2E_NM_BOUND" -- "$E2E_NM_PY" -m dbusmock --system \
		-t "$_E2E_NM_MOCK" -l "$E2E_LOGS/nm-calls.log" -p "$E2E_NM_PARAMS"
	local i
	for ((i = 0; i < E2E_NM_STEP_S * 10; i++)); do
		_e2e_nm_owned && break
		e2e_running nm-mock || break
		sleep 0.1
	done
	_e2e_nm_owned || e2e_fail "the NM mock did not start"
	e2e_log "NM mock up on $DBUS_SYSTEM_BUS_ADDRESS"
}

e2e_nm_stop_mock()
{
	e2e_stop nm-mock 0
	e2e_log "NM mock stopped ($E2E_RC)"
}

e2e_nm_manual()
{
	touch "$E2E_WORK/nm/manual"
}

e2e_nm_itead_extra()
{
	mkdir -p "$E2E_WORK/nm"
	printf ', %s' "$2" >"$E2E_WORK/nm/itead-$1.json"
}

e2e_nm_hide_finalstage()
{
	mkdir -p "$E2E_WORK/nm"
	touch "$E2E_WORK/nm/no-finalstage"
}

# Called by lib.sh's _e2e_hook (inside DEV, under its lock): is NM playing the SRV side?
_e2e_nm_on()
{
	[ -e "$E2E_WORK/nm/on" ] && [ ! -e "$E2E_WORK/nm/manual" ]
}

# _e2e_nm_event EVENT ID: the radio's view of device ID's access points changes.
_e2e_nm_event()
{
	local ev="$1" id="$2" bssid extra='' i
	bssid=$(e2e_dev_bssid "$id")
	# NM restarting (hands-nm-restart): the radio's view reaches the new one once it is up
	for ((i = 0; i < 50; i++)); do
		_e2e_nm_owned && break
		sleep 0.1
	done
	case "$ev" in
	ap-up)
		[ -r "$E2E_WORK/nm/itead-$id.json" ] && extra=$(cat "$E2E_WORK/nm/itead-$id.json")
		e2e_nm_call AddAP string: "string:{\"ssid\": \"ITEAD-$id\", \"psk\": \"$E2E_NM_ITEAD_PSK\", \"dhcp\": \"$E2E_AP_SRV\", \"bssid\": \"$bssid\", \"strength\": 60$extra}" >/dev/null
		;;
	ap-down)
		e2e_nm_call RemoveBSS "string:ITEAD-$id" "string:$bssid" >/dev/null
		;;
	finalstage-up)
		[ -e "$E2E_WORK/nm/no-finalstage" ] && return 0
		e2e_nm_call AddAP string: "string:{\"ssid\": \"FinalStage\", \"sec\": \"open\", \"dhcp\": \"$E2E_FS_SRV\", \"bssid\": \"$bssid\", \"strength\": 60}" >/dev/null
		;;
	finalstage-down)
		[ -e "$E2E_WORK/nm/no-finalstage" ] && return 0
		e2e_nm_call RemoveBSS string:FinalStage "string:$bssid" >/dev/null
		;;
	esac
}

# ---- assertions -------------------------------------------------------------------------------

e2e_nm_expect_home()
{
	local addrs
	e2e_nm_py "
d = dump()['devices']['$E2E_IF']
if d['active'] != '$E2E_NM_HOME_ID' or d['state'] != 2:
    fail('the mock has %r (state %r) on $E2E_IF, not $E2E_NM_HOME_ID activated' % (d['active'], d['state']))
" >"$E2E_WORK/nm/py.out" 2>&1 || e2e_fail "home not restored in the mock: $(cat "$E2E_WORK/nm/py.out")"
	addrs=$(e2e_ip "$NS_SRV" -4 -o addr show dev "$E2E_IF" | awk '{print $4}' | tr '\n' ' ')
	[ "$addrs" = "$E2E_HOME_SRV " ] ||
		e2e_fail "SRV's $E2E_IF has '$addrs', wanted only the home address $E2E_HOME_SRV"
	e2e_log "ok: $E2E_NM_HOME_ID active again, SRV has $E2E_HOME_SRV only"
}

e2e_nm_expect_clean()
{
	e2e_nm_py "
d = dump()
left = [p for p in d['profiles'] if p.startswith('sonota-')]
if left:
    fail('profiles of ours left: %s' % left)
w = [x for x in d['prop_writes'] if x['prop'] == 'Autoconnect']
if w:
    fail('Device.Autoconnect was written: %s' % w)
print('profiles:', d['profiles'], '; property writes:', d['prop_writes'])
" >"$E2E_WORK/nm/py.out" 2>&1 || e2e_fail "$(cat "$E2E_WORK/nm/py.out")"
	e2e_log "ok: no sonota-* profile left, Device.Autoconnect never written ($(cat "$E2E_WORK/nm/py.out"))"
}

# e2e_nm_expect_joins ID [N_FINAL]
e2e_nm_expect_joins()
{
	local id="$1" nfinal="${2:-1}" bssid
	bssid=$(e2e_dev_bssid "$id")
	e2e_nm_py "
d = dump()
bssid, nfinal = '$bssid', $nfinal
add2 = [a for a in d['add2'] if a['id'] in ('sonota-ITEAD-$id', 'sonota-FinalStage')]
if not any(a['id'] == 'sonota-ITEAD-$id' for a in add2):
    fail('sonota-c never asked to join ITEAD-$id: %s' % d['add2'])
for a in add2:
    if a['persist'] != 'volatile' or a['bind'] != 'dbus-client':
        fail('%s was not volatile and client-bound: %s' % (a['id'], a))
itead = [x for x in d['activated'] if x['id'] == 'sonota-ITEAD-$id']
if not itead or itead[0]['bssid'] != bssid or itead[0]['cidr'] != '$E2E_AP_SRV':
    fail('ITEAD-$id not activated on %s with $E2E_AP_SRV: %s' % (bssid, d['activated']))
fin = [x for x in d['activated'] if x['id'] == 'sonota-FinalStage' and x['bssid'] == bssid]
if len(fin) != nfinal:
    fail('%d FinalStage activations on %s, wanted %d: %s' % (len(fin), bssid, nfinal, d['activated']))
for x in fin:
    if x['cidr'] != '$E2E_FS_SRV' or not x['volatile']:
        fail('FinalStage activation %s' % x)
for a in add2:
    if a['id'] == 'sonota-FinalStage' and a['ap_bssid'] == bssid and a['bssid'] != bssid:
        fail('FinalStage asked without its BSSID: %s' % a)
if not any(a['id'] == 'sonota-FinalStage' and a['ap_bssid'] == bssid and a['bssid'] == bssid
           for a in add2):
    fail('FinalStage was not joined by the BSSID of ITEAD-$id (%s): %s' % (bssid, add2))
print('%d joins, all volatile + client-bound; FinalStage by %s with $E2E_FS_SRV' % (len(add2), bssid))
" >"$E2E_WORK/nm/py.out" 2>&1 || e2e_fail "$(cat "$E2E_WORK/nm/py.out")"
	e2e_log "ok: $(cat "$E2E_WORK/nm/py.out")"
}

# e2e_nm_expect_hop_latency LOG MAX_MS [WANT...]: in sonota-c's debug log (--log-file), every
# "WiFi: hop ACTION requested for stage: A → E → B" line comes at most MAX_MS after the
# transition line "stage: A → E → B" before it, and every transition that calls for a hop
# (into wait-ap, look-next, next-device, wait-home, finalstage but from final-delivered, a
# terminal stage) has one. WANT: the
# actions that must appear, in order (e.g. join-itead home join-finalstage restore).
# E2E_NM_HOME_ELSEWHERE=1: wait-home calls for no hop (the serving address is on another
# interface than the radio: two interfaces).
e2e_nm_expect_hop_latency()
{
	local log="$1" max="$2"
	shift 2
	"$E2E_NM_PY" - "$log" "$max" "$@" >"$E2E_WORK/nm/lat.out" 2>&1 <<'PY' ||
import os, re, sys
from datetime import datetime
log, mx, want = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
ts = r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \w+: '
trans, hops, bad = [], [], []
calls = ('wait-ap', 'look-next', 'next-device', 'wait-home', 'finalstage', 'done', 'failed')
if os.environ.get('E2E_NM_HOME_ELSEWHERE') == '1':   # two interfaces: no way home
    calls = tuple(c for c in calls if c != 'wait-home')
for line in open(log, encoding='utf-8', errors='replace'):
    m = re.match(ts + r'stage: (\S+) → (\S+) → (\S+)$', line)
    if m:
        t = datetime.strptime(m.group(1), '%Y-%m-%d %H:%M:%S.%f')
        trans.append((t, m.group(2), m.group(3), m.group(4)))
        continue
    m = re.match(ts + r'WiFi: hop (\S+) requested for stage: (\S+) → (\S+) → (\S+)$', line)
    if m:
        t = datetime.strptime(m.group(1), '%Y-%m-%d %H:%M:%S.%f')
        hops.append((t, m.group(2), (m.group(3), m.group(4), m.group(5))))
for t, action, tr in hops:
    before = [x for x in trans if x[1:] == tr and x[0] <= t]
    if not before:
        bad.append('hop %s for %s with no such transition before it' % (action, ' → '.join(tr)))
        continue
    ms = (t - before[-1][0]).total_seconds() * 1000
    print('hop %-16s %6.0f ms after stage: %s' % (action, ms, ' → '.join(tr)))
    if ms > mx:
        bad.append('hop %s came %.0f ms after its transition (max %d)' % (action, ms, mx))
need = [x for x in trans if x[1] != x[3] and x[3] in calls and
        not (x[3] == 'finalstage' and x[1] == 'final-delivered')]
if len(need) != len(hops):
    bad.append('%d transitions call for a hop, %d hop lines' % (len(need), len(hops)))
got = [h[1] for h in hops]
if want and got != want:
    bad.append('hops %s, wanted %s' % (got, want))
for b in bad:
    print('FAIL:', b)
sys.exit(1 if bad or not hops else 0)
PY
		e2e_fail "hop timing: $(cat "$E2E_WORK/nm/lat.out")"
	e2e_log "ok: every hop within $max ms of its transition:"
	sed 's/^/    /' "$E2E_WORK/nm/lat.out" >&2
}
