'''NetworkManager mock for sonota-c's NM client tests (issue 10, docs/wifi.md).

Run by tests/nm/run.sh as
    /usr/bin/python3 -m dbusmock --system -t tests/nm/nmmock.py -p '<json>'
on a private system bus. It extends the NetworkManager template of Debian's
python3-dbusmock 0.28.7 (its Manager and Settings objects and constants) with
what that version lacks and sonota-c needs (WIFI-AUTOMATION.md section 3):

* devices, access points, saved profiles and an active connection from the
  JSON parameters (see PARAMETERS below);
* AddAndActivateConnection2 with NM's option checks (persist, bind-activation;
  any other key is InvalidArguments), volatile profiles deleted on
  deactivation, and bind-activation=dbus-client: when the caller's bus name
  vanishes, the activation is torn down with reason CONNECTION_REMOVED;
* one activation per device (a new one replaces the old: NEW_ACTIVATION);
* staged activation (ACTIVATING, then ACTIVATED or DEACTIVATED after delay_ms)
  with Connection.Active.StateChanged and Device.StateChanged signals, the
  standard PropertiesChanged, and failure reasons per access point: wrong PSK
  (device 7, connection 9), AP gone (53/3), no DHCP lease (17/5);
* IP4Config objects with AddressData;
* RequestScan that bumps LastScan after scan_delay_ms (APs listed in
  'appear_on_scan' only show up then);
* autoconnect: after autoconnect_delay_ms a device with nothing active gets
  the best visible autoconnect profile, as NM >= 1.26 does;
* an optional hook program run as 'hook up|down <ssid> <cidr> [<BSSID>]' (the tests that
  move namespace addresses: tests/nm/netns-hook.sh, tests/e2e/hands-lib.sh);
* a record of every property write a client sends (a bus message filter), so a
  test can show that Device.Autoconnect is never written.

Test control methods (org.freedesktop.DBus.Mock on /org/freedesktop):
AddAP(iface, json), RemoveAP(ssid), RemoveBSS(ssid, bssid) (only the AP of that
BSSID: one device's FinalStage among several), DeleteProfile(id),
Dump() -> json of the state: devices, profiles, add2 (every
AddAndActivateConnection2: id, persist, bind, the BSSID asked for and that of the
AP given), activated (every activation that reached ACTIVATED: id, ssid, BSSID,
address), prop_writes (every org.freedesktop.DBus.Properties.Set a client sent:
sonota-c must never write Device.Autoconnect), calls, scans.

PARAMETERS (all optional):
  version, wireless_enabled, delay_ms, scan_delay_ms, autoconnect_delay_ms, hook,
  scan_error (RequestScan fails with this message),
  permissions ('yes', 'no' or 'auth' for every polkit action GetPermissions lists),
  devices: [{iface, type (2 wifi, 1 ethernet), managed, hw}],
  aps: [{ssid, bssid, strength, sec ('open'|'wpa2'), psk, dhcp ('a.b.c.d/p' or
         null: no lease), vanish (true: disappears during activation),
         fail_first ([device reason, connection reason]: the first activation fails),
         iface (default: first WiFi device)}],
  appear_on_scan: [ssid, ...],
  profiles: [{id, ssid, psk, autoconnect, priority, timestamp}],
  active: profile id active on the first WiFi device at start.
'''

import json
import subprocess
import time
import uuid

import dbus
import dbus.lowlevel
import dbus.service
from gi.repository import GLib

import dbusmock
from dbusmock import MOCK_IFACE
import dbusmock.templates.networkmanager as base

BUS_NAME = base.BUS_NAME
MAIN_OBJ = base.MAIN_OBJ
SYSTEM_BUS = True
IS_OBJECT_MANAGER = True

MANAGER_OBJ = base.MANAGER_OBJ
MANAGER_IFACE = base.MANAGER_IFACE
SETTINGS_OBJ = base.SETTINGS_OBJ
SETTINGS_IFACE = base.SETTINGS_IFACE
DEVICE_IFACE = base.DEVICE_IFACE
WIRELESS_IFACE = base.WIRELESS_DEVICE_IFACE
AP_IFACE = base.ACCESS_POINT_IFACE
CSETTINGS_IFACE = base.CSETTINGS_IFACE
AC_IFACE = base.ACTIVE_CONNECTION_IFACE
IP4_IFACE = 'org.freedesktop.NetworkManager.IP4Config'
DS = base.DeviceState

AC_ACTIVATING, AC_ACTIVATED, AC_DEACTIVATING, AC_DEACTIVATED = 1, 2, 3, 4
# NMDeviceStateReason / NMActiveConnectionStateReason codes used here
R_NONE, R_NO_SECRETS, R_DHCP_FAILED, R_CONN_REMOVED, R_USER = 0, 7, 17, 38, 39
R_SSID_NOT_FOUND, R_NEW_ACTIVATION, R_SUPPLICANT_DISCONNECT = 53, 60, 8
AR_NONE, AR_USER, AR_DEV_DISC, AR_IP_INVALID, AR_NO_SECRETS, AR_REMOVED = 1, 2, 3, 5, 9, 11

S = {}  # the mock's state: one dict, see load()


def u32(v):
    return dbus.UInt32(v)


def opath(p):
    return dbus.ObjectPath(p)


def log(msg):
    obj = S['mock']
    obj.log('nmmock: ' + msg)


def ssid_bytes(ssid):
    return ssid.encode('utf-8', 'surrogateescape') if isinstance(ssid, str) else bytes(ssid)


def set_prop(path, iface, name, value):
    '''Set + the standard PropertiesChanged (mockobject.Set emits it).'''
    dbusmock.get_object(path).Set(iface, name, value)


def next_path(kind):
    S['seq'] += 1
    return f'/org/freedesktop/NetworkManager/{kind}/{S["seq"]}'


def run_hook(what, ssid, cidr, bssid=''):
    if S['hook']:
        subprocess.run([S['hook'], what, ssid, cidr or ''] + ([bssid.upper()] if bssid else []),
                       check=False)


# ---- objects ---------------------------------------------------------------------

def add_device(mock, d):
    path = next_path('Devices')
    wifi = d.get('type', 2) == 2
    hw = d.get('hw', '02:00:00:00:00:%02x' % S['seq'])
    mock.AddObject(path, DEVICE_IFACE, {
        'DeviceType': u32(d.get('type', 2)),
        'Managed': dbus.Boolean(d.get('managed', True)),
        'Interface': d['iface'],
        'IpInterface': d['iface'],
        'Driver': 'nmmock',
        'HwAddress': hw,
        'State': u32(DS.DISCONNECTED),
        'StateReason': dbus.Struct((u32(DS.DISCONNECTED), u32(0)), signature='uu'),
        'ActiveConnection': opath('/'),
        'AvailableConnections': dbus.Array([], signature='o'),
        'Autoconnect': dbus.Boolean(True),
        'Ip4Config': opath('/'),
    }, [('Disconnect', '', '', lambda self: device_disconnect(self.path))])
    obj = dbusmock.get_object(path)
    if wifi:
        obj.AddProperties(WIRELESS_IFACE, {
            'HwAddress': hw,
            'PermHwAddress': hw,
            'Mode': u32(2),
            'Bitrate': u32(0),
            'AccessPoints': dbus.Array([], signature='o'),
            'ActiveAccessPoint': opath('/'),
            'WirelessCapabilities': u32(0x7ff),
            'LastScan': dbus.Int64(-1),
        })
        obj.AddMethods(WIRELESS_IFACE, [
            ('GetAccessPoints', '', 'ao', lambda self: visible_aps(self.path)),
            ('GetAllAccessPoints', '', 'ao', lambda self: visible_aps(self.path)),
            ('RequestScan', 'a{sv}', '', lambda self, opts: request_scan(self.path, opts)),
        ])
    S['devices'][path] = {'iface': d['iface'], 'wifi': wifi, 'ac': None}
    devs = dbusmock.get_object(MANAGER_OBJ).Get(MANAGER_IFACE, 'Devices')
    devs.append(opath(path))
    set_prop(MANAGER_OBJ, MANAGER_IFACE, 'Devices', devs)
    return path


def wifi_device(iface=None):
    for p, d in S['devices'].items():
        if d['wifi'] and (iface is None or d['iface'] == iface):
            return p
    return None


def visible_aps(dev):
    return dbus.Array([opath(p) for p, a in S['aps'].items()
                       if a['dev'] == dev and a['visible']], signature='o')


def add_ap(a, visible=True):
    dev = wifi_device(a.get('iface'))
    path = next_path('AccessPoint')
    secure = a.get('sec', 'wpa2') != 'open'
    mock = S['mock']
    mock.AddObject(path, AP_IFACE, {
        'Ssid': dbus.ByteArray(ssid_bytes(a['ssid'])),
        'HwAddress': a.get('bssid', '02:11:22:33:44:%02x' % S['seq']),
        'Flags': u32(1 if secure else 0),
        'WpaFlags': u32(0),
        'RsnFlags': u32(0x188 if secure else 0),
        'Strength': dbus.Byte(a.get('strength', 50)),
        'Frequency': u32(2437),
        'Mode': u32(2),
        'MaxBitrate': u32(54000),
        'LastSeen': dbus.Int32(int(time.monotonic())),
    }, [])
    S['aps'][path] = {'ssid': ssid_bytes(a['ssid']), 'dev': dev, 'visible': visible,
                      'secure': secure, 'psk': a.get('psk'), 'vanish': a.get('vanish', False),
                      'dhcp': a.get('dhcp', '10.0.0.2/24'),  # null: no lease
                      'fail_first': a.get('fail_first'),  # [device, ac] reasons, once
                      'bssid': a.get('bssid')}
    if visible:
        show_ap(path)
    return path


def show_ap(path):
    a = S['aps'][path]
    a['visible'] = True
    dev = a['dev']
    set_prop(dev, WIRELESS_IFACE, 'AccessPoints', visible_aps(dev))
    dbusmock.get_object(dev).EmitSignal(WIRELESS_IFACE, 'AccessPointAdded', 'o', [opath(path)])


def remove_ap(path):
    a = S['aps'].pop(path)
    dev = a['dev']
    if a['visible']:
        set_prop(dev, WIRELESS_IFACE, 'AccessPoints', visible_aps(dev))
        dbusmock.get_object(dev).EmitSignal(WIRELESS_IFACE, 'AccessPointRemoved', 'o',
                                            [opath(path)])
    mock = S['mock']
    mock.RemoveObject(path)
    # a connection riding on it loses its link
    d = S['devices'][dev]
    if d['ac'] and S['acs'][d['ac']]['ap'] == path:
        ac = S['acs'][d['ac']]
        if ac['state'] == AC_ACTIVATED:
            deactivate(d['ac'], R_SUPPLICANT_DISCONNECT, AR_DEV_DISC, autoconnect=True)


def find_ap(dev, ssid, bssid=None):
    for p, a in S['aps'].items():
        if a['dev'] == dev and a['visible'] and a['ssid'] == ssid and \
                (not bssid or (a['bssid'] or '').lower() == bssid.lower()):
            return p
    return None


def add_profile(settings, volatile=False, bound_to=None):
    path = next_path('Settings')
    mock = S['mock']
    mock.AddObject(path, CSETTINGS_IFACE, {
        'Unsaved': dbus.Boolean(volatile),
        'Flags': u32(0x5 if volatile else 0),  # UNSAVED|VOLATILE
        'Filename': '' if volatile else '/etc/NetworkManager/system-connections/x',
    }, [
        ('GetSettings', '', 'a{sa{sv}}', lambda self: S['profiles'][self.path]['settings']),
        ('Delete', '', '', lambda self: delete_profile(self.path)),
    ])
    S['profiles'][path] = {'settings': settings, 'volatile': volatile}
    conns = dbusmock.get_object(SETTINGS_OBJ).Get(SETTINGS_IFACE, 'Connections')
    conns.append(opath(path))
    set_prop(SETTINGS_OBJ, SETTINGS_IFACE, 'Connections', conns)
    dbusmock.get_object(SETTINGS_OBJ).EmitSignal(SETTINGS_IFACE, 'NewConnection', 'o',
                                                 [opath(path)])
    return path


def delete_profile(path):
    if path not in S['profiles']:
        raise dbus.exceptions.DBusException('no such connection',
                                            name='org.freedesktop.NetworkManager.Settings.Connection.NotFound')
    for acp, ac in list(S['acs'].items()):
        if ac['profile'] == path:
            deactivate(acp, R_CONN_REMOVED, AR_REMOVED, autoconnect=True)
    if path not in S['profiles']:  # a volatile one went with its activation
        return
    del S['profiles'][path]
    conns = [c for c in dbusmock.get_object(SETTINGS_OBJ).Get(SETTINGS_IFACE, 'Connections')
             if str(c) != path]
    set_prop(SETTINGS_OBJ, SETTINGS_IFACE, 'Connections', dbus.Array(conns, signature='o'))
    dbusmock.get_object(path).EmitSignal(CSETTINGS_IFACE, 'Removed', '', [])
    dbusmock.get_object(SETTINGS_OBJ).EmitSignal(SETTINGS_IFACE, 'ConnectionRemoved', 'o',
                                                 [opath(path)])
    S['mock'].RemoveObject(path)
    log(f'profile {path} deleted')


def profile_settings(id_, ssid, psk=None, autoconnect=True, priority=0, timestamp=0):
    s = {
        'connection': {'id': id_, 'uuid': str(uuid.uuid4()), 'type': '802-11-wireless',
                       'autoconnect': dbus.Boolean(autoconnect),
                       'autoconnect-priority': dbus.Int32(priority),
                       'timestamp': dbus.UInt64(timestamp)},
        '802-11-wireless': {'ssid': dbus.ByteArray(ssid_bytes(ssid)), 'mode': 'infrastructure'},
    }
    if psk:
        s['802-11-wireless-security'] = {'key-mgmt': 'wpa-psk', 'psk': psk}
    return dbus.Dictionary({k: dbus.Dictionary(v, signature='sv') for k, v in s.items()},
                           signature='sa{sv}')


# ---- device and activation state -------------------------------------------------

def set_device_state(dev, state, reason):
    obj = dbusmock.get_object(dev)
    old = obj.Get(DEVICE_IFACE, 'State')
    obj.Set(DEVICE_IFACE, 'State', u32(state))
    obj.Set(DEVICE_IFACE, 'StateReason', dbus.Struct((u32(state), u32(reason)), signature='uu'))
    obj.EmitSignal(DEVICE_IFACE, 'StateChanged', 'uuu', [u32(state), u32(old), u32(reason)])


def set_ac_state(acp, state, reason):
    S['acs'][acp]['state'] = state
    obj = dbusmock.get_object(acp)
    obj.Set(AC_IFACE, 'State', u32(state))
    obj.EmitSignal(AC_IFACE, 'StateChanged', 'uu', [u32(state), u32(reason)])


def set_active_list():
    set_prop(MANAGER_OBJ, MANAGER_IFACE, 'ActiveConnections',
             dbus.Array([opath(p) for p in S['acs']], signature='o'))


def profile_ssid(profile):
    return bytes(S['profiles'][profile]['settings']['802-11-wireless']['ssid'])


def profile_id(profile):
    return str(S['profiles'][profile]['settings']['connection']['id'])


def activate(profile, dev, ap=None, bind_to=None):
    d = S['devices'][dev]
    if d['ac']:
        deactivate(d['ac'], R_NEW_ACTIVATION, AR_DEV_DISC, autoconnect=False)
    acp = next_path('ActiveConnection')
    st = S['profiles'][profile]['settings']
    mock = S['mock']
    mock.AddObject(acp, AC_IFACE, {
        'Connection': opath(profile),
        'SpecificObject': opath(ap or '/'),
        'Id': st['connection']['id'],
        'Uuid': st['connection']['uuid'],
        'Type': '802-11-wireless',
        'Devices': dbus.Array([opath(dev)], signature='o'),
        'State': u32(AC_ACTIVATING),
        'StateFlags': u32(0),
        'Default': dbus.Boolean(False),
        'Default6': dbus.Boolean(False),
        'Vpn': dbus.Boolean(False),
        'Ip4Config': opath('/'),
        'Ip6Config': opath('/'),
        'Master': opath('/'),
    }, [])
    S['acs'][acp] = {'profile': profile, 'dev': dev, 'ap': ap, 'state': AC_ACTIVATING,
                     'ip4': None, 'cidr': None, 'watch': None, 'ssid': b''}
    d['ac'] = acp
    set_active_list()
    set_prop(dev, DEVICE_IFACE, 'ActiveConnection', opath(acp))
    set_device_state(dev, DS.PREPARE, R_NONE)
    set_ac_state(acp, AC_ACTIVATING, AR_NONE)
    if bind_to:
        conn = dbusmock.get_object(MANAGER_OBJ).connection

        def vanished(owner, acp=acp):
            if not owner and acp in S['acs']:
                log(f'client {bind_to} left the bus: dropping {acp}')
                deactivate(acp, R_CONN_REMOVED, AR_REMOVED, autoconnect=True)
        S['acs'][acp]['watch'] = conn.watch_name_owner(bind_to, vanished)
    GLib.timeout_add(S['delay_ms'], lambda: finish_activation(acp) and False)
    log(f'activating {profile_id(profile)} on {d["iface"]} as {acp}')
    return acp


def finish_activation(acp):
    if acp not in S['acs'] or S['acs'][acp]['state'] != AC_ACTIVATING:
        return False
    ac = S['acs'][acp]
    dev, profile = ac['dev'], ac['profile']
    st = S['profiles'][profile]['settings']
    ap = ac['ap'] if ac['ap'] in S['aps'] else find_ap(dev, profile_ssid(profile))
    if ap and S['aps'][ap]['ssid'] != profile_ssid(profile):
        ap = None
    if not ap:
        return fail(acp, R_SSID_NOT_FOUND, AR_DEV_DISC)
    a = S['aps'][ap]
    if a['vanish']:
        remove_ap(ap)
        return fail(acp, R_SSID_NOT_FOUND, AR_DEV_DISC)
    if a['fail_first']:  # e.g. a supplicant timeout (11, 6) on the first try only
        reasons, a['fail_first'] = a['fail_first'], None
        return fail(acp, reasons[0], reasons[1])
    given = st.get('802-11-wireless-security', {}).get('psk')
    if a['secure'] and (given is None or str(given) != a['psk']):
        set_device_state(dev, DS.NEED_AUTH, R_NONE)
        return fail(acp, R_NO_SECRETS, AR_NO_SECRETS)
    if not a['secure'] and 'psk' in st.get('802-11-wireless-security', {}):
        return fail(acp, R_NO_SECRETS, AR_NO_SECRETS)
    set_device_state(dev, DS.IP_CONFIG, R_NONE)
    if not a['dhcp']:
        return fail(acp, R_DHCP_FAILED, AR_IP_INVALID)
    addr, prefix = a['dhcp'].split('/')
    ip4 = next_path('IP4Config')
    S['mock'].AddObject(ip4, IP4_IFACE, {
        'AddressData': dbus.Array([dbus.Dictionary({'address': dbus.String(addr),
                                                    'prefix': u32(int(prefix))},
                                                   signature='sv')], signature='a{sv}'),
        'Gateway': '',
        'NameserverData': dbus.Array([], signature='a{sv}'),
    }, [])
    ac['ip4'] = ip4
    ac['ap'] = ap
    ac['ssid'] = a['ssid']
    ac['cidr'] = a['dhcp']
    ac['bssid'] = a['bssid'] or ''
    set_prop(acp, AC_IFACE, 'Ip4Config', opath(ip4))
    set_prop(acp, AC_IFACE, 'StateFlags', u32(0x8 | 0x4))  # IP4_READY | LAYER2_READY
    set_prop(dev, DEVICE_IFACE, 'Ip4Config', opath(ip4))
    set_prop(dev, WIRELESS_IFACE, 'ActiveAccessPoint', opath(ap))
    run_hook('up', a['ssid'].decode('utf-8', 'replace'), a['dhcp'], a['bssid'])
    S['activated'].append({'id': profile_id(profile), 'ssid': a['ssid'].decode('utf-8', 'replace'),
                           'bssid': (a['bssid'] or '').upper(), 'cidr': a['dhcp'],
                           'volatile': S['profiles'][profile]['volatile']})
    set_device_state(dev, DS.ACTIVATED, R_NONE)
    set_ac_state(acp, AC_ACTIVATED, AR_NONE)
    log(f'{acp} ({profile_id(profile)}) activated with {a["dhcp"]}')
    return False


def fail(acp, dev_reason, ac_reason):
    dev = S['acs'][acp]['dev']
    set_device_state(dev, DS.FAILED, dev_reason)
    log(f'{acp} failed: device reason {dev_reason}, connection reason {ac_reason}')
    deactivate(acp, dev_reason, ac_reason, autoconnect=True, failed=True)
    return False


def deactivate(acp, dev_reason, ac_reason, autoconnect, failed=False):
    ac = S['acs'].get(acp)
    if not ac:
        return
    dev, profile = ac['dev'], ac['profile']
    if ac['watch']:
        ac['watch'].cancel()
        ac['watch'] = None
    if ac['state'] == AC_ACTIVATED:
        set_ac_state(acp, AC_DEACTIVATING, ac_reason)
        set_device_state(dev, DS.DEACTIVATING, dev_reason)
        # the SSID kept at activation: the AP may be gone already (RemoveAP)
        run_hook('down', ac['ssid'].decode('utf-8', 'replace'), ac['cidr'], ac.get('bssid'))
    set_ac_state(acp, AC_DEACTIVATED, ac_reason)
    del S['acs'][acp]
    S['devices'][dev]['ac'] = None
    set_active_list()
    set_prop(dev, DEVICE_IFACE, 'ActiveConnection', opath('/'))
    set_prop(dev, DEVICE_IFACE, 'Ip4Config', opath('/'))
    if S['devices'][dev]['wifi']:
        set_prop(dev, WIRELESS_IFACE, 'ActiveAccessPoint', opath('/'))
    # the device keeps the reason of the failure in DISCONNECTED (as NM does)
    set_device_state(dev, DS.DISCONNECTED, dev_reason)
    mock = S['mock']
    mock.RemoveObject(acp)
    if ac['ip4']:
        mock.RemoveObject(ac['ip4'])
    if profile in S['profiles'] and S['profiles'][profile]['volatile']:
        delete_profile(profile)
    if autoconnect:
        GLib.timeout_add(S['autoconnect_delay_ms'], lambda: autoconnect_device(dev) and False)


def autoconnect_device(dev, force=False):
    '''NM's autoconnect; force: ActivateConnection("/") picks the best profile even
    while the device is busy (the current activation is replaced).'''
    if S['devices'][dev]['ac'] and not force:
        return False
    current = S['acs'][S['devices'][dev]['ac']]['profile'] if S['devices'][dev]['ac'] else None
    best = None
    for p, prof in S['profiles'].items():
        c = prof['settings']['connection']
        if prof['volatile'] or not c.get('autoconnect', True) or p == current:
            continue
        if not find_ap(dev, profile_ssid(p)):
            continue
        key = (int(c.get('autoconnect-priority', 0)), int(c.get('timestamp', 0)))
        if best is None or key > best[0]:
            best = (key, p)
    if best:
        log(f'autoconnect: {profile_id(best[1])}')
        activate(best[1], dev, find_ap(dev, profile_ssid(best[1])))
    return False


def device_disconnect(dev):
    S['calls'].append('Device.Disconnect')
    if S['devices'][dev]['ac']:
        deactivate(S['devices'][dev]['ac'], R_USER, AR_USER, autoconnect=False)


def request_scan(dev, opts):
    for k in opts:
        if k not in ('ssids',):
            raise dbus.exceptions.DBusException(f'unknown option {k}',
                                                name='org.freedesktop.NetworkManager.Device.InvalidArgument')
    if S['scan_error']:
        raise dbus.exceptions.DBusException(S['scan_error'],
                                            name='org.freedesktop.NetworkManager.Device.NotAllowed')
    S['scans'] += 1
    S['calls'].append('RequestScan ' + ','.join(bytes(x).decode('utf-8', 'replace')
                                                 for x in opts.get('ssids', [])))

    def done():
        for p, a in S['aps'].items():
            if not a['visible'] and a['ssid'].decode('utf-8', 'replace') in S['appear_on_scan']:
                show_ap(p)
        # LastScan is CLOCK_BOOTTIME in ms; monotonic is as good for a mock
        set_prop(dev, WIRELESS_IFACE, 'LastScan', dbus.Int64(int(time.monotonic() * 1000)))
        return False
    GLib.timeout_add(S['scan_delay_ms'], done)


# ---- Manager methods -------------------------------------------------------------

def m_activate_connection(self, conn, dev, specific):
    conn, dev = str(conn), str(dev)
    if conn == '/':
        S['calls'].append('ActivateConnection /')
        before = S['devices'][dev]['ac']
        autoconnect_device(dev, force=True)
        acp = S['devices'][dev]['ac']
        if not acp or acp == before:
            raise dbus.exceptions.DBusException('no suitable connection',
                                                name='org.freedesktop.NetworkManager.UnknownConnection')
        return opath(acp)
    if conn not in S['profiles']:
        raise dbus.exceptions.DBusException(f'connection {conn} not found',
                                            name='org.freedesktop.NetworkManager.UnknownConnection')
    S['calls'].append('ActivateConnection ' + profile_id(conn))
    ap = str(specific) if str(specific) != '/' else find_ap(dev, profile_ssid(conn))
    return opath(activate(conn, dev, ap))


def m_deactivate_connection(self, acp):
    acp = str(acp)
    if acp not in S['acs']:
        raise dbus.exceptions.DBusException('not an active connection',
                                            name='org.freedesktop.NetworkManager.ConnectionNotActive')
    S['calls'].append('DeactivateConnection')
    deactivate(acp, R_USER, AR_USER, autoconnect=False)


def m_add_and_activate2(self, settings, dev, specific, options, sender=None):
    '''AddAndActivateConnection2 as NM 1.16+ (nm-manager.c): options persist and
    bind-activation only.'''
    persist, bind = 'disk', 'none'
    for k, v in options.items():
        if k == 'persist' and str(v) in ('disk', 'memory', 'volatile'):
            persist = str(v)
        elif k == 'bind-activation' and str(v) in ('dbus-client', 'none'):
            bind = str(v)
        else:
            raise dbus.exceptions.DBusException('Unknown extra option passed',
                                                name='org.freedesktop.NetworkManager.InvalidArguments')
    dev, specific = str(dev), str(specific)
    if dev not in S['devices']:
        raise dbus.exceptions.DBusException('unknown device',
                                            name='org.freedesktop.NetworkManager.UnknownDevice')
    st = {str(k): dict(v) for k, v in settings.items()}
    if 'connection' not in st or 'id' not in st['connection']:
        raise dbus.exceptions.DBusException('connection.id missing',
                                            name='org.freedesktop.NetworkManager.InvalidArguments')
    st['connection'].setdefault('uuid', str(uuid.uuid4()))
    st['connection'].setdefault('autoconnect', dbus.Boolean(True))
    if '802-11-wireless' not in st and specific in S['aps']:
        st['802-11-wireless'] = {'ssid': dbus.ByteArray(S['aps'][specific]['ssid'])}
    asked = st.get('802-11-wireless', {}).get('bssid')
    S['add2'].append({'at': time.monotonic(),  # the clock of the client's CLOCK_MONOTONIC
                      'id': str(st['connection']['id']), 'persist': persist, 'bind': bind,
                      'sender': str(sender),
                      'bssid': ':'.join('%02X' % b for b in bytes(asked)) if asked else None,
                      'ap_bssid': (S['aps'][specific]['bssid'] or '').upper()
                      if specific in S['aps'] else None,
                      'never_default': bool(st.get('ipv4', {}).get('never-default', False))})
    settings = dbus.Dictionary({k: dbus.Dictionary(v, signature='sv') for k, v in st.items()},
                               signature='sa{sv}')
    prof = add_profile(settings, volatile=(persist == 'volatile'))
    acp = activate(prof, dev, specific if specific in S['aps'] else None,
                   bind_to=sender if bind == 'dbus-client' else None)
    return (opath(prof), opath(acp), dbus.Dictionary({}, signature='sv'))


def add_raw_method(obj, iface, name, in_sig, out_sig, fn):
    '''A method that also gets the caller's unique name (mock_method does not pass
    it; bind-activation needs it).'''
    f = dbus.service.method(iface, in_signature=in_sig, out_signature=out_sig,
                            sender_keyword='sender')(fn)
    obj.methods.setdefault(iface, {})[name] = (in_sig, out_sig, '', f)


def record_prop_writes(conn):
    '''Record every Properties.Set a client sends (the mock's own set_prop calls
    do not cross the bus, so they are not counted).'''
    def on_message(_conn, msg):
        if isinstance(msg, dbus.lowlevel.MethodCallMessage) and \
                msg.get_interface() == dbus.PROPERTIES_IFACE and msg.get_member() == 'Set':
            args = msg.get_args_list()
            w = {'path': msg.get_path(), 'iface': str(args[0]) if args else '',
                 'prop': str(args[1]) if len(args) > 1 else '', 'sender': msg.get_sender()}
            S['prop_writes'].append(w)
            log(f'property write from {w["sender"]}: {w["path"]} {w["iface"]}.{w["prop"]}')
        return dbus.lowlevel.HANDLER_RESULT_NOT_YET_HANDLED
    conn.add_message_filter(on_message)


# ---- test control ----------------------------------------------------------------

@dbus.service.method(MOCK_IFACE, in_signature='ss', out_signature='s')
def AddAP(self, iface, spec):
    a = json.loads(spec)
    if iface:
        a['iface'] = iface
    return add_ap(a)


@dbus.service.method(MOCK_IFACE, in_signature='s', out_signature='')
def RemoveAP(self, ssid):
    for p, a in list(S['aps'].items()):
        if a['ssid'] == ssid_bytes(ssid):
            remove_ap(p)


@dbus.service.method(MOCK_IFACE, in_signature='ss', out_signature='')
def RemoveBSS(self, ssid, bssid):
    for p, a in list(S['aps'].items()):
        if a['ssid'] == ssid_bytes(ssid) and (a['bssid'] or '').lower() == bssid.lower():
            remove_ap(p)


@dbus.service.method(MOCK_IFACE, in_signature='s', out_signature='')
def DeleteProfile(self, id_):
    for p in list(S['profiles']):
        if profile_id(p) == id_:
            delete_profile(p)


@dbus.service.method(MOCK_IFACE, in_signature='', out_signature='s')
def Dump(self):
    out = {'devices': {}, 'profiles': [], 'add2': S['add2'], 'calls': S['calls'],
           'scans': S['scans'], 'activated': S['activated'], 'prop_writes': S['prop_writes']}
    for p, d in S['devices'].items():
        ac = S['acs'].get(d['ac']) if d['ac'] else None
        out['devices'][d['iface']] = {
            'active': profile_id(ac['profile']) if ac else None,
            'state': ac['state'] if ac else None,
            'cidr': ac['cidr'] if ac else None,
            'autoconnect': bool(dbusmock.get_object(p).Get(DEVICE_IFACE, 'Autoconnect')),
        }
    for p in S['profiles']:
        out['profiles'].append(profile_id(p))
    return json.dumps(out)


# ---- load ------------------------------------------------------------------------

def load(mock, parameters):
    params = dict(parameters or {})
    base.load(mock, {'Version': params.get('version', '1.42.4'),
                     'WirelessEnabled': dbus.Boolean(params.get('wireless_enabled', True))})
    S.clear()
    S.update({'mock': mock, 'seq': 0, 'devices': {}, 'aps': {}, 'profiles': {}, 'acs': {}, 'add2': [],
              'calls': [], 'scans': 0, 'activated': [], 'prop_writes': [],
              'delay_ms': int(params.get('delay_ms', 150)),
              'scan_delay_ms': int(params.get('scan_delay_ms', 150)),
              'autoconnect_delay_ms': int(params.get('autoconnect_delay_ms', 200)),
              'appear_on_scan': params.get('appear_on_scan', []),
              'hook': params.get('hook'),
              'scan_error': params.get('scan_error')})
    nm = dbusmock.get_object(MANAGER_OBJ)
    record_prop_writes(nm.connection)
    perm = params.get('permissions', 'yes')  # what root gets; 'auth' for a user over SSH
    perms = {MANAGER_IFACE + '.' + a: perm
             for a in ('network-control', 'wifi.scan', 'settings.modify.system',
                       'settings.modify.own', 'enable-disable-wifi')}
    nm.AddMethods(MANAGER_IFACE, [
        ('GetPermissions', '', 'a{ss}',
         lambda self: dbus.Dictionary(perms, signature='ss')),
        ('ActivateConnection', 'ooo', 'o', m_activate_connection),
        ('DeactivateConnection', 'o', '', m_deactivate_connection),
    ])
    add_raw_method(nm, MANAGER_IFACE, 'AddAndActivateConnection2', 'a{sa{sv}}ooa{sv}',
                   'ooa{sv}', m_add_and_activate2)

    for d in params.get('devices', [{'iface': 'wlan0'}]):
        add_device(mock, d)
    for a in params.get('aps', []):
        if a.get('iface') is None:
            a.pop('iface', None)
        add_ap(a, visible=a['ssid'] not in params.get('appear_on_scan', []))
    by_id = {}
    for p in params.get('profiles', []):
        by_id[p['id']] = add_profile(profile_settings(
            p['id'], p['ssid'], p.get('psk'), p.get('autoconnect', True),
            p.get('priority', 0), p.get('timestamp', 0)))
    if params.get('active'):
        dev = wifi_device()
        prof = by_id[params['active']]
        activate(prof, dev, find_ap(dev, profile_ssid(prof)))
        finish_activation(S['devices'][dev]['ac'])
