/* tls: see tls.h. Certificate generation and checks with mbedTLS 2.28. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>

#include "tls.h"

#define TLS_DER_MAX 4096 /* room for one RSA-2048 certificate in DER */

static int __attribute__((format(printf, 4, 5)))
tls_err(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return r;
}

/* mbedTLS entropy from getrandom(2), the kernel's CSPRNG. */
static int
tls_getrandom(void *data, unsigned char *out, size_t len, size_t *olen)
{
	(void)data;
	size_t got = 0;
	while (got < len) {
		ssize_t r = getrandom(out + got, len - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
		}
		got += (size_t)r;
	}
	*olen = got;
	return 0;
}

static int
mkdir_p(const char *dir)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int
parent_dir(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return snprintf(out, len, ".") < (int)len ? 0 : -ENAMETOOLONG;
	size_t n = (size_t)(slash - path);
	if (n == 0)
		n = 1;
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(out, path, n);
	out[n] = '\0';
	return 0;
}

/* Write buf to path atomically: a 0600/0644 temporary in the same directory,
 * fsync, rename. */
static int
write_file_atomic(const char *path, const unsigned char *buf, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	int r = 0;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (!r && fchmod(fd, mode) < 0)
		r = -errno;
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

int
tls_generate(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_pk_context key;
	mbedtls_x509write_cert crt;
	mbedtls_mpi serial;
	unsigned char *pem = NULL;
	char dir[PATH_MAX];
	int r;

	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_pk_init(&key);
	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&serial);

	pem = calloc(1, TLS_PEM_MAX);
	if (!pem) {
		r = tls_err(err, errlen, -ENOMEM, "%s", "out of memory");
		goto out;
	}
	if ((r = parent_dir(cert_path, dir, sizeof(dir))) < 0 || (r = mkdir_p(dir)) < 0 ||
	    (r = parent_dir(key_path, dir, sizeof(dir))) < 0 || (r = mkdir_p(dir)) < 0) {
		snprintf(err, errlen, "cannot create the directory of \"%s\": %s", key_path,
			 strerror(-r));
		goto out;
	}

	if (mbedtls_entropy_add_source(&entropy, tls_getrandom, NULL, 32,
				       MBEDTLS_ENTROPY_SOURCE_STRONG) ||
	    mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
				  (const unsigned char *)"sonota-c-cert", 13)) {
		r = tls_err(err, errlen, -EIO, "%s", "cannot seed the random generator");
		goto out;
	}
	if (mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) ||
	    mbedtls_rsa_gen_key(mbedtls_pk_rsa(key), mbedtls_ctr_drbg_random, &drbg, TLS_RSA_BITS,
				65537)) {
		r = tls_err(err, errlen, -EIO, "%s", "RSA key generation failed");
		goto out;
	}

	/* Self-signed: subject == issuer, our key signs our certificate. */
	unsigned char serial_bytes[16];
	size_t olen;
	if (tls_getrandom(NULL, serial_bytes, sizeof(serial_bytes), &olen)) {
		r = tls_err(err, errlen, -EIO, "%s", "getrandom failed");
		goto out;
	}
	serial_bytes[0] &= 0x7f; /* a positive serial number */
	char not_before[16], not_after[16];
	time_t now = time(NULL) - 24 * 3600; /* tolerate a device clock a day behind */
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(not_before, sizeof(not_before), "%Y%m%d%H%M%S", &tm);
	tm.tm_year += TLS_CERT_YEARS;
	strftime(not_after, sizeof(not_after), "%Y%m%d%H%M%S", &tm);

	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, &key);
	mbedtls_x509write_crt_set_issuer_key(&crt, &key);
	if (mbedtls_mpi_read_binary(&serial, serial_bytes, sizeof(serial_bytes)) ||
	    mbedtls_x509write_crt_set_serial(&crt, &serial) ||
	    mbedtls_x509write_crt_set_subject_name(&crt, "CN=" TLS_CERT_CN) ||
	    mbedtls_x509write_crt_set_issuer_name(&crt, "CN=" TLS_CERT_CN) ||
	    mbedtls_x509write_crt_set_validity(&crt, not_before, not_after) ||
	    mbedtls_x509write_crt_set_basic_constraints(&crt, 0, -1)) {
		r = tls_err(err, errlen, -EIO, "%s", "cannot fill in the certificate");
		goto out;
	}

	/* Key first: a certificate without its key is useless, the reverse is not. */
	if (mbedtls_pk_write_key_pem(&key, pem, TLS_PEM_MAX)) {
		r = tls_err(err, errlen, -EIO, "%s", "cannot encode the key");
		goto out;
	}
	r = write_file_atomic(key_path, pem, strlen((char *)pem), 0600);
	explicit_bzero(pem, TLS_PEM_MAX);
	if (r < 0) {
		snprintf(err, errlen, "cannot write \"%s\": %s", key_path, strerror(-r));
		goto out;
	}
	if (mbedtls_x509write_crt_pem(&crt, pem, TLS_PEM_MAX, mbedtls_ctr_drbg_random, &drbg)) {
		r = tls_err(err, errlen, -EIO, "%s", "cannot sign the certificate");
		goto out;
	}
	r = write_file_atomic(cert_path, pem, strlen((char *)pem), 0644);
	if (r < 0) {
		snprintf(err, errlen, "cannot write \"%s\": %s", cert_path, strerror(-r));
		goto out;
	}
	r = 0;
out:
	free(pem);
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&crt);
	mbedtls_pk_free(&key);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return r;
}

int
tls_check(const char *cert_path, const char *key_path, unsigned *ret_chain_len, char *err,
	  size_t errlen)
{
	mbedtls_x509_crt crt;
	mbedtls_pk_context key;
	struct stat st;
	int r;

	mbedtls_x509_crt_init(&crt);
	mbedtls_pk_init(&key);

	if (stat(key_path, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "key \"%s\": %s", key_path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > TLS_PEM_MAX) {
		r = tls_err(err, errlen, -EINVAL, "key \"%s\" is not a small regular file",
			    key_path);
		goto out;
	}
	if (st.st_mode & 077) {
		r = tls_err(err, errlen, -EPERM,
			    "key \"%s\" is readable by others: chmod 600 it first", key_path);
		goto out;
	}
	if (stat(cert_path, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "certificate \"%s\": %s", cert_path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > TLS_PEM_MAX) {
		r = tls_err(err, errlen, -EINVAL,
			    "certificate \"%s\" is not a small regular file", cert_path);
		goto out;
	}
	if (mbedtls_x509_crt_parse_file(&crt, cert_path)) {
		r = tls_err(err, errlen, -EINVAL, "certificate \"%s\" cannot be parsed (PEM or DER expected)",
			    cert_path);
		goto out;
	}
	if (mbedtls_pk_parse_keyfile(&key, key_path, NULL)) {
		r = tls_err(err, errlen, -EINVAL,
			    "key \"%s\" cannot be parsed (an unencrypted PEM or DER key expected)",
			    key_path);
		goto out;
	}
	if (mbedtls_pk_check_pair(&crt.pk, &key)) {
		snprintf(err, errlen, "key \"%s\" does not belong to certificate \"%s\"", key_path,
			 cert_path);
		r = -EINVAL;
		goto out;
	}
	unsigned n = 0;
	for (const mbedtls_x509_crt *c = &crt; c && c->raw.len; c = c->next)
		n++;
	if (ret_chain_len)
		*ret_chain_len = n;
	r = 0;
out:
	mbedtls_pk_free(&key);
	mbedtls_x509_crt_free(&crt);
	return r;
}

int
tls_check_chain(const char *cert_path, char *warn, size_t warnlen)
{
	mbedtls_x509_crt crt;
	struct stat st;

	if (stat(cert_path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size > TLS_PEM_MAX)
		return -EINVAL;
	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse_file(&crt, cert_path)) {
		mbedtls_x509_crt_free(&crt);
		return -EINVAL;
	}
	unsigned n = 0;
	size_t der = 0;
	for (const mbedtls_x509_crt *c = &crt; c && c->raw.len; c = c->next) {
		n++;
		der += c->raw.len;
	}
	mbedtls_x509_crt_free(&crt);
	if (n <= 1 && der <= TLS_CHAIN_DER_WARN)
		return 0;
	if (n > 1)
		snprintf(warn, warnlen,
			 "certificate \"%s\" holds a chain of %u certificates (%zu bytes): the "
			 "stock firmware's 2 KB TLS buffer may not take them and the device then "
			 "drops the handshake. Use one self-signed certificate (omit --cert to have "
			 "one generated)",
			 cert_path, n, der);
	else
		snprintf(warn, warnlen,
			 "certificate \"%s\" is %zu bytes (over %d): the stock firmware's 2 KB "
			 "TLS buffer may not take it and the device then drops the handshake. Use "
			 "an RSA-2048 self-signed certificate (omit --cert to have one generated)",
			 cert_path, der, TLS_CHAIN_DER_WARN);
	return 1;
}

int
tls_fingerprint(const char *cert_path, char out[65])
{
	mbedtls_x509_crt crt;
	unsigned char md[32];

	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse_file(&crt, cert_path)) {
		mbedtls_x509_crt_free(&crt);
		return -EINVAL;
	}
	mbedtls_sha256_ret(crt.raw.p, crt.raw.len, md, 0);
	mbedtls_x509_crt_free(&crt);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int
tls_ensure(const char *user_cert, const char *user_key, const char *dir, char *ret_cert,
	   size_t cert_len, char *ret_key, size_t key_len, bool *ret_generated, char *err,
	   size_t errlen)
{
	char cert[PATH_MAX], key[PATH_MAX];
	bool generated = false;
	int r;

	if (user_cert && user_key) {
		snprintf(cert, sizeof(cert), "%s", user_cert);
		snprintf(key, sizeof(key), "%s", user_key);
	} else {
		if (snprintf(cert, sizeof(cert), "%s/server.crt", dir) >= (int)sizeof(cert) ||
		    snprintf(key, sizeof(key), "%s/server.key", dir) >= (int)sizeof(key))
			return tls_err(err, errlen, -ENAMETOOLONG, "certificate directory \"%s\" is too long", dir);
		bool have_cert = access(cert, F_OK) == 0, have_key = access(key, F_OK) == 0;
		if (have_cert != have_key)
			return tls_err(err, errlen, -EINVAL,
				       "only one of server.crt and server.key exists in \"%s\": "
				       "remove the other to have a new pair generated",
				       dir);
		if (!have_cert) {
			r = tls_generate(cert, key, err, errlen);
			if (r < 0)
				return r;
			generated = true;
		}
	}
	unsigned chain;
	r = tls_check(cert, key, &chain, err, errlen);
	if (r < 0)
		return r;
	if ((size_t)snprintf(ret_cert, cert_len, "%s", cert) >= cert_len ||
	    (size_t)snprintf(ret_key, key_len, "%s", key) >= key_len)
		return tls_err(err, errlen, -ENAMETOOLONG, "path too long: \"%s\"", cert);
	*ret_generated = generated;
	return 0;
}
