/* tls: the server certificate for the HTTPS/WSS listener.
 *
 * The stock firmware does not validate the certificate (firmware >= 1.6 pins the
 * real cloud's, and nothing can be done for it), but its TLS buffer is small:
 * keep ONE self-signed RSA-2048 certificate, no chain (PROTOCOL.md §7).
 * The TLS version/suite policy itself lives in lws' mbedTLS backend, which
 * offers TLS 1.0-1.2 with the library's default suites (incl. RSA AES-CBC-SHA);
 * tests/unit/test-tls.c proves what it negotiates.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define TLS_RSA_BITS 2048          /* device TLS stacks handle 2048; larger slows the handshake */
#define TLS_CERT_CN "sonota-c"     /* subject CN of a generated certificate */
#define TLS_CERT_YEARS 30          /* validity of a generated certificate */
#define TLS_PEM_MAX (64 * 1024)    /* bigger cert/key files are refused */
#define TLS_CHAIN_DER_WARN 1536    /* DER bytes of the certificate(s) sent in the handshake
				    * above which tls_check_chain warns: the stock
				    * firmware's TLS buffer is 2048 bytes (PROTOCOL.md §7)
				    * and the Certificate record shares it with its headers
				    * and the rest of the server's flight; a generated
				    * RSA-2048 certificate is ~800 bytes, SonOTA's 909 */

/* Create cert_path (0644) and key_path (0600) with a fresh self-signed RSA
 * certificate. The key is written to a temporary file in the same directory and
 * renamed, so a crash never leaves a half key. Directories are created 0700.
 * Returns 0 or -errno with err filled. */
int tls_generate(const char *cert_path, const char *key_path, char *err, size_t errlen);

/* Load cert_path and key_path and check that they form an RSA or EC pair, that
 * the key file is not readable by group/others (-EPERM otherwise), and that the
 * certificate file holds a single certificate (*ret_chain_len tells how many).
 * Returns 0 or -errno with err filled. */
int tls_check(const char *cert_path, const char *key_path, unsigned *ret_chain_len, char *err,
	      size_t errlen);

/* Will cert_path's certificate(s) fit a device's 2 KB TLS buffer? Returns 0 when
 * the file holds one certificate of at most TLS_CHAIN_DER_WARN DER bytes; 1 when
 * it holds a chain or a bigger certificate, with a one-line warning for the user
 * written to warn (the handshake may then fail on the device: lws sends the whole
 * file); -errno when the file cannot be read or parsed (-EINVAL). */
int tls_check_chain(const char *cert_path, char *warn, size_t warnlen);

/* The lower-case hex SHA-256 fingerprint of the (first) certificate in path,
 * for the start-up log. Returns 0 or -errno. */
int tls_fingerprint(const char *cert_path, char out[65]);

/* The certificate and key in effect: the user's (--cert/--key), or the generated
 * pair in dir (made on first use). *ret_generated is true when a new pair was
 * made by this call. Returns 0 or -errno with err filled. */
int tls_ensure(const char *user_cert, const char *user_key, const char *dir, char *ret_cert,
	       size_t cert_len, char *ret_key, size_t key_len, bool *ret_generated, char *err,
	       size_t errlen);
