#ifndef SIGIL_OPENSSL_H
#define SIGIL_OPENSSL_H

/* RSA PKCS#1 v1.5 signing with the system's OpenSSL 3 libcrypto (docs/architecture.md, "Keys").
 * Only opaque handles cross into Swift: no OpenSSL header is exposed, so nothing here can clash
 * with the BoringSSL that swift-crypto bundles (its symbols are prefixed). */

#include <stddef.h>
#include <stdint.h>

typedef struct sigil_rsa_key sigil_rsa_key;

/* Parses an RSA private key from DER (PKCS#1 RSAPrivateKey or PKCS#8); NULL if it is not one. */
sigil_rsa_key *sigil_rsa_key_from_der(const uint8_t *der, size_t length);

void sigil_rsa_key_free(sigil_rsa_key *key);

/* Modulus size in bytes (the signature's length). */
size_t sigil_rsa_key_size(const sigil_rsa_key *key);

/* RSASSA-PKCS1-v1_5 with SHA-256 over `message`. `signature` must hold sigil_rsa_key_size bytes;
 * `*signature_length` is set to the bytes written. Returns 1 on success, 0 on failure. Safe to call
 * from several threads at once with the same key. */
int sigil_rsa_sign_sha256(const sigil_rsa_key *key, const uint8_t *message, size_t message_length,
                          uint8_t *signature, size_t *signature_length);

/* OpenSSL_version(OPENSSL_VERSION), e.g. "OpenSSL 3.0.22 25 Aug 2026". */
const char *sigil_openssl_version(void);

#endif
