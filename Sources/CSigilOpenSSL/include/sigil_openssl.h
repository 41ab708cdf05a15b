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

/* --- ePassport passive authentication (ICAO Doc 9303 part 11 §5; docs/idv.md) ---------------
 * swift-certificates refuses the LDS content type and explicit/brainpool curves; OpenSSL reads them. */

/* Verifies a CMS SignedData (DER, without the EF.SOD 0x77 wrapper) against the signer certificate
 * it carries: the signature over the signed attributes and their message digest of the content.
 * The signer certificate's own trust is NOT checked here (see sigil_x509_signed_by). On success
 * returns 1 and sets *content / *signer to buffers the caller frees with sigil_free; on failure
 * returns 0 and writes OpenSSL's reason into `error` (NUL-terminated, at most error_size bytes). */
int sigil_cms_verify_embedded(const uint8_t *der, size_t length, uint8_t **content, size_t *content_length,
                              uint8_t **signer, size_t *signer_length, char *error, size_t error_size);

/* 1 when certificate `child` (DER) carries a valid signature by the public key of certificate
 * `issuer` (DER) and names it as its issuer; 0 otherwise. Validity periods are not checked. */
int sigil_x509_signed_by(const uint8_t *child, size_t child_length, const uint8_t *issuer, size_t issuer_length);

/* The digest of `data` with the algorithm named by its dotted OID (SHA-1, SHA-224, SHA-256,
 * SHA-384, SHA-512). `out` must hold 64 bytes. Returns the digest length, or 0 for an unknown OID. */
size_t sigil_digest_oid(const char *oid, const uint8_t *data, size_t length, uint8_t *out);

/* One-line subject and issuer of a certificate (RFC 2253), into `out` (NUL-terminated). */
int sigil_x509_names(const uint8_t *der, size_t length, char *subject, size_t subject_size, char *issuer, size_t issuer_size);

void sigil_free(void *pointer);

#endif
