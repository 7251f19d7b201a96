/* Unit tests of src/tls.c: certificate generation, file modes, pair checks. The
 * handshake policy (TLS 1.0-1.2, RSA AES-CBC-SHA, no SNI) is proven against the
 * real listener in test-wss.c. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>

#include "check.h"
#include "tls.h"

static char dir[] = "/tmp/sonota-test-tls-XXXXXX";

static void
path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void
test_generate(void)
{
	char cert[256], key[256], err[256] = "";
	path(cert, sizeof(cert), "sub/server.crt");
	path(key, sizeof(key), "sub/server.key");
	CHECK_INT(tls_generate(cert, key, err, sizeof(err)), 0);

	struct stat st;
	CHECK(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(stat(cert, &st) == 0 && (st.st_mode & 077) == 044);
	char sub[300];
	path(sub, sizeof(sub), "sub");
	CHECK(stat(sub, &st) == 0 && (st.st_mode & 0777) == 0700);

	/* One RSA-2048 certificate, self-signed, no chain. */
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	CHECK_INT(mbedtls_x509_crt_parse_file(&crt, cert), 0);
	CHECK(crt.next == NULL);
	CHECK(mbedtls_pk_get_type(&crt.pk) == MBEDTLS_PK_RSA);
	CHECK_INT(mbedtls_pk_get_bitlen(&crt.pk), TLS_RSA_BITS);
	char subj[128], issuer[128];
	mbedtls_x509_dn_gets(subj, sizeof(subj), &crt.subject);
	mbedtls_x509_dn_gets(issuer, sizeof(issuer), &crt.issuer);
	CHECK_STR(subj, "CN=" TLS_CERT_CN);
	CHECK_STR(issuer, subj);
	uint32_t flags = 0;
	CHECK_INT(mbedtls_x509_crt_verify(&crt, &crt, NULL, NULL, &flags, NULL, NULL), 0);
	/* Small enough for a device TLS buffer of 2 KB (PROTOCOL.md §7). */
	CHECK_MSG(crt.raw.len < 1200, "certificate DER is %zu bytes", crt.raw.len);
	mbedtls_x509_crt_free(&crt);

	unsigned chain = 0;
	CHECK_INT(tls_check(cert, key, &chain, err, sizeof(err)), 0);
	CHECK_INT(chain, 1);

	char fp[65];
	CHECK_INT(tls_fingerprint(cert, fp), 0);
	CHECK_INT(strlen(fp), 64);
	CHECK_INT(tls_fingerprint(key, fp), -EINVAL);
}

static void
test_ensure(void)
{
	char cdir[300], err[256] = "", cert[512], key[512];
	bool gen = false;
	path(cdir, sizeof(cdir), "certs");
	CHECK_INT(tls_ensure(NULL, NULL, cdir, cert, sizeof(cert), key, sizeof(key), &gen, err,
			     sizeof(err)), 0);
	CHECK(gen);
	char fp1[65], fp2[65];
	CHECK_INT(tls_fingerprint(cert, fp1), 0);
	/* The second start keeps the same certificate. */
	CHECK_INT(tls_ensure(NULL, NULL, cdir, cert, sizeof(cert), key, sizeof(key), &gen, err,
			     sizeof(err)), 0);
	CHECK(!gen);
	CHECK_INT(tls_fingerprint(cert, fp2), 0);
	CHECK_STR(fp1, fp2);

	/* A key readable by others is refused, naming the file. */
	CHECK_INT(chmod(key, 0644), 0);
	CHECK_INT(tls_ensure(NULL, NULL, cdir, cert, sizeof(cert), key, sizeof(key), &gen, err,
			     sizeof(err)), -EPERM);
	CHECK(strstr(err, "server.key") != NULL);
	CHECK_INT(chmod(key, 0600), 0);

	/* Half a pair is an error, not a silent regeneration. */
	char lone[300];
	path(lone, sizeof(lone), "half");
	CHECK_INT(mkdir(lone, 0700), 0);
	char f[400];
	snprintf(f, sizeof(f), "%s/server.crt", lone);
	FILE *fp = fopen(f, "w");
	CHECK(fp != NULL);
	if (fp)
		fclose(fp);
	CHECK_INT(tls_ensure(NULL, NULL, lone, cert, sizeof(cert), key, sizeof(key), &gen, err,
			     sizeof(err)), -EINVAL);

	/* The user's own pair; a key of another pair is refused. */
	char c2[300], k2[300];
	path(c2, sizeof(c2), "other.crt");
	path(k2, sizeof(k2), "other.key");
	CHECK_INT(tls_generate(c2, k2, err, sizeof(err)), 0);
	char ocert[300];
	path(ocert, sizeof(ocert), "certs/server.crt");
	CHECK_INT(tls_ensure(c2, k2, "/nonexistent", cert, sizeof(cert), key, sizeof(key), &gen,
			     err, sizeof(err)), 0);
	CHECK(!gen);
	CHECK_STR(cert, c2);
	CHECK_INT(tls_ensure(ocert, k2, "/nonexistent", cert, sizeof(cert), key, sizeof(key), &gen,
			     err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "does not belong") != NULL);
	CHECK_INT(tls_ensure("/nonexistent.crt", k2, "/x", cert, sizeof(cert), key, sizeof(key),
			     &gen, err, sizeof(err)), -ENOENT);
}

/* Self-sign a certificate with key_path's key and names long enough that the DER
 * is over TLS_CHAIN_DER_WARN, into out. */
static int
write_big_cert(const char *key_path, const char *out)
{
	mbedtls_pk_context key;
	mbedtls_x509write_cert w;
	mbedtls_mpi serial;
	unsigned char pem[8192];
	char name[1024], part[200];
	int r = -1;

	mbedtls_pk_init(&key);
	mbedtls_x509write_crt_init(&w);
	mbedtls_mpi_init(&serial);
	memset(part, 'x', sizeof(part) - 1);
	part[sizeof(part) - 1] = '\0';
	snprintf(name, sizeof(name), "CN=%s,O=%s,OU=%s,L=%s", part, part, part, part);
	if (mbedtls_pk_parse_keyfile(&key, key_path, NULL) || mbedtls_mpi_lset(&serial, 7))
		goto out;
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, &key);
	mbedtls_x509write_crt_set_issuer_key(&w, &key);
	if (mbedtls_x509write_crt_set_serial(&w, &serial) ||
	    mbedtls_x509write_crt_set_subject_name(&w, name) ||
	    mbedtls_x509write_crt_set_issuer_name(&w, name) ||
	    mbedtls_x509write_crt_set_validity(&w, "20200101000000", "20500101000000"))
		goto out;
	/* RSA PKCS#1 v1.5 signing is deterministic: no random generator needed. */
	if (mbedtls_x509write_crt_pem(&w, pem, sizeof(pem), NULL, NULL))
		goto out;
	FILE *f = fopen(out, "w");
	if (f) {
		fputs((char *)pem, f);
		r = fclose(f) ? -1 : 0;
	}
out:
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&w);
	mbedtls_pk_free(&key);
	return r;
}

/* One small certificate passes; a chain (two certificates in the file) and one
 * oversized certificate each get a warning; an unreadable file is an error. */
static void
test_check_chain(void)
{
	char a[300], ak[300], b[300], bk[300], chain[300], big[300], junk[300], warn[512];
	path(a, sizeof(a), "ca.crt");
	path(ak, sizeof(ak), "ca.key");
	path(b, sizeof(b), "cb.crt");
	path(bk, sizeof(bk), "cb.key");
	path(chain, sizeof(chain), "chain.crt");
	path(big, sizeof(big), "big.crt");
	path(junk, sizeof(junk), "junk.crt");
	char err[256];
	CHECK_INT(tls_generate(a, ak, err, sizeof(err)), 0);
	CHECK_INT(tls_generate(b, bk, err, sizeof(err)), 0);

	warn[0] = '\0';
	CHECK_INT(tls_check_chain(a, warn, sizeof(warn)), 0);
	CHECK_STR(warn, "");

	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cat '%s' '%s' > '%s'", a, b, chain);
	CHECK_INT(system(cmd), 0);
	CHECK_INT(tls_check_chain(chain, warn, sizeof(warn)), 1);
	CHECK_MSG(strstr(warn, "chain of 2 certificates") && strstr(warn, "chain.crt") &&
			  strstr(warn, "2 KB"),
		  "warning: %s", warn);

	CHECK_INT(write_big_cert(ak, big), 0);
	warn[0] = '\0';
	CHECK_INT(tls_check_chain(big, warn, sizeof(warn)), 1);
	char over[32];
	snprintf(over, sizeof(over), "bytes (over %d)", TLS_CHAIN_DER_WARN);
	CHECK_MSG(strstr(warn, "big.crt") && strstr(warn, over), "warning: %s", warn);

	FILE *f = fopen(junk, "w");
	if (f) {
		fputs("not a certificate\n", f);
		fclose(f);
	}
	CHECK_INT(tls_check_chain(junk, warn, sizeof(warn)), -EINVAL);
	CHECK_INT(tls_check_chain("/nonexistent.crt", warn, sizeof(warn)), -ENOENT);
}

int
main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_generate();
	test_ensure();
	test_check_chain();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_done();
}
