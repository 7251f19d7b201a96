/* msg: the device's JSON messages (PROTOCOL §3.1, §3.3, §3.4), pure: no I/O, no logging. */
#ifndef DEVSIM_MSG_H
#define DEVSIM_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#define MSG_URL_MAX 512			/* downloadUrl */
#define MSG_SEQ_MAX 20			/* digits of a sequence (u64) */
#define MSG_DATE_SKEW_S 5		/* |server date - real UTC| the device tolerates */

struct model;

/* What the device takes from an `upgrade` command. */
struct msg_upgrade {
	char name[16];			/* "user1.bin" / "user2.bin": entry for the inactive slot */
	char url[MSG_URL_MAX];		/* its downloadUrl */
	char host[128];			/* parsed from url */
	uint16_t port;
	char path[MSG_URL_MAX];		/* path (may contain a query) */
	uint8_t digest[32];		/* SHA-256 from `digest` */
	char seq[MSG_SEQ_MAX + 1];	/* the command's sequence (for the ack) */
};

/* Dispatch body (§3.1); heap string, caller frees. */
char *msg_dispatch(const struct model *m, const char *deviceid, const char *apikey, long ts);
/* register (§3.3 D1); heap string, caller frees. */
char *msg_register(const struct model *m, const char *deviceid, const char *apikey, long ts);
/* date (D2); heap string, caller frees. */
char *msg_date(const char *deviceid, const char *srvkey);
/* First update with the device state (D3); relay[i] "on"/"off"; heap string, caller frees. */
char *msg_update(const struct model *m, const char *deviceid, const char *srvkey,
		 char relay[4][4]);
/* query timers (D4); heap string, caller frees. */
char *msg_query(const struct model *m, const char *deviceid, const char *srvkey);
/* ack of a server command (D5); heap string, caller frees. */
char *msg_ack(const char *deviceid, const char *srvkey, const char *seq, int error);

/* true if s is a UUID (8-4-4-4-12 hex). */
bool msg_is_uuid(const char *s);
/* Check a date reply: exactly "YYYY-MM-DDTHH:MM:SS.mmmZ", a real date, within
 * MSG_DATE_SKEW_S of now (UTC). -EINVAL with err. */
int msg_check_date(const char *s, struct timespec now, char *err, size_t errlen);
/* Parse a sequence string: 1..20 decimal digits. -EINVAL otherwise. */
int msg_parse_seq(const char *s, unsigned long long *ret);
/* Parse "http://host[:port]/path". -EINVAL with err. */
int msg_parse_url(const char *url, char *host, size_t hostcap, uint16_t *port, char *path,
		  size_t pathcap, char *err, size_t errlen);
/* Validate upgrade params (§3.4) for a device of `model` running `running_slot`.
 * -EPERM: model mismatch (the device closes the socket); -EINVAL: malformed. err set. */
int msg_parse_upgrade(const cJSON *params, const char *model, int running_slot,
		      struct msg_upgrade *ret, char *err, size_t errlen);
/* Check a plain reply (error:0, deviceid echo, apikey == srvkey when srvkey). -EINVAL. */
int msg_check_reply(const cJSON *o, const char *deviceid, const char *srvkey, char *err,
		    size_t errlen);

#endif
