/* wssrule: see wssrule.h. */
#include "config.h"

#include <string.h>

#include "wssrule.h"

bool
wss_is_tls_abort(const struct wss_close_facts *f)
{
	if (f->request_seen || f->we_closed || !f->tcp_known)
		return false;
	/* Our answer to a complete ClientHello reached the peer. */
	if (f->bytes_acked == 0)
		return false;
	/* ... and the peer, not we, ended the connection. */
	switch (f->tcp_state) {
	case WSS_TCP_CLOSE_WAIT:
	case WSS_TCP_LAST_ACK:
	case WSS_TCP_CLOSE:
		return true;
	default:
		return false;
	}
}

bool
wss_tls_abort_undecided(const struct wss_close_facts *f)
{
	return !f->request_seen && !f->we_closed && f->tcp_known && f->bytes_acked > 0 &&
	       f->tcp_state == WSS_TCP_ESTABLISHED;
}

/* The value of one base64 character, -1 for anything else. */
static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

bool
wss_key_valid(const char *key)
{
	/* 16 bytes = 128 bits = 21 characters of 6 bits + 2 bits in a 22nd, then
	 * "==" pads the last group to 4 characters. */
	if (!key || strlen(key) != 24 || key[22] != '=' || key[23] != '=')
		return false;
	for (int i = 0; i < 22; i++)
		if (b64_value(key[i]) < 0)
			return false;
	return (b64_value(key[21]) & 0x0f) == 0;
}

bool
wss_version_valid(const char *version)
{
	return version && strcmp(version, "13") == 0;
}
