/* tlsclient: see tlsclient.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tlsclient.h"

static int
pin_abort(void *data, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	(void)data;
	(void)crt;
	(void)depth;
	*flags |= MBEDTLS_X509_BADCERT_NOT_TRUSTED;
	return MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
}

int
tlsclient_connect(struct tlsclient *t, uint16_t port, int minor, int suite, bool abort_after_cert)
{
	char portstr[8];
	int r;

	memset(t, 0, sizeof(*t));
	mbedtls_net_init(&t->net);
	mbedtls_ssl_init(&t->ssl);
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_entropy_init(&t->entropy);
	mbedtls_ctr_drbg_init(&t->drbg);
	if ((r = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy, NULL, 0)))
		return r;
	snprintf(portstr, sizeof(portstr), "%u", port);
	if ((r = mbedtls_net_connect(&t->net, "127.0.0.1", portstr, MBEDTLS_NET_PROTO_TCP)))
		return r;
	if ((r = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT,
					     MBEDTLS_SSL_TRANSPORT_STREAM,
					     MBEDTLS_SSL_PRESET_DEFAULT)))
		return r;
	mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, minor);
	mbedtls_ssl_conf_max_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, minor);
	t->suites[0] = suite;
	t->suites[1] = 0;
	mbedtls_ssl_conf_ciphersuites(&t->conf, t->suites);
	if (abort_after_cert) {
		mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
		mbedtls_ssl_conf_verify(&t->conf, pin_abort, NULL);
	} else {
		mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_NONE);
	}
	mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
	mbedtls_ssl_conf_read_timeout(&t->conf, 5000);
	if ((r = mbedtls_ssl_setup(&t->ssl, &t->conf)))
		return r;
	/* No mbedtls_ssl_set_hostname(): no SNI, like the device. */
	mbedtls_ssl_set_bio(&t->ssl, &t->net, mbedtls_net_send, NULL, mbedtls_net_recv_timeout);
	while ((r = mbedtls_ssl_handshake(&t->ssl)) != 0) {
		if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE)
			return r;
	}
	return 0;
}

int
tlsclient_write_all(struct tlsclient *t, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	while (len) {
		int r = mbedtls_ssl_write(&t->ssl, p, len);
		if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ)
			continue;
		if (r <= 0)
			return r ? r : -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int
tlsclient_read(struct tlsclient *t, void *buf, size_t len, size_t want)
{
	size_t got = 0;
	while (got < want && got < len) {
		int r = mbedtls_ssl_read(&t->ssl, (unsigned char *)buf + got, len - got);
		if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (r <= 0)
			return got ? (int)got : (r ? r : -1);
		got += (size_t)r;
	}
	return (int)got;
}

void
tlsclient_close(struct tlsclient *t)
{
	mbedtls_ssl_close_notify(&t->ssl);
	mbedtls_net_free(&t->net);
	mbedtls_ssl_free(&t->ssl);
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_entropy_free(&t->entropy);
}
