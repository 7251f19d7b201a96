/* A blocking mbedTLS client for tests, shaped like the device's TLS stack: one
 * pinned protocol version, only the RSA AES-CBC-SHA suites it is given, no SNI,
 * no certificate verification (stock firmware < 1.6). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

struct tlsclient {
	mbedtls_net_context net;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	int suites[2];
};

/* minor: 1 = TLS 1.0, 2 = TLS 1.1, 3 = TLS 1.2. suite: an MBEDTLS_TLS_* id.
 * abort_after_cert: stop right after the server's Certificate (pinning firmware).
 * Returns 0 or a negative mbedTLS error. */
int tlsclient_connect(struct tlsclient *t, uint16_t port, int minor, int suite,
		      bool abort_after_cert);
int tlsclient_write_all(struct tlsclient *t, const void *buf, size_t len);
/* Read until at least want bytes or the timeout; returns bytes read or < 0. */
int tlsclient_read(struct tlsclient *t, void *buf, size_t len, size_t want);
void tlsclient_close(struct tlsclient *t);
