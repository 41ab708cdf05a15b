#include "sigil_openssl.h"

#include <stdio.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

struct sigil_rsa_key {
    EVP_PKEY *pkey;
    size_t size;
};

sigil_rsa_key *sigil_rsa_key_from_der(const uint8_t *der, size_t length) {
    if (der == NULL || length == 0 || length > 16384) return NULL;
    const unsigned char *cursor = der;
    /* d2i_AutoPrivateKey reads PKCS#8 and the traditional (PKCS#1) forms. */
    EVP_PKEY *pkey = d2i_AutoPrivateKey(NULL, &cursor, (long)length);
    if (pkey == NULL) return NULL;
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA || cursor != der + length) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    int size = EVP_PKEY_get_size(pkey);
    if (size <= 0) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    sigil_rsa_key *key = OPENSSL_zalloc(sizeof(*key));
    if (key == NULL) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    key->pkey = pkey;
    key->size = (size_t)size;
    return key;
}

void sigil_rsa_key_free(sigil_rsa_key *key) {
    if (key == NULL) return;
    EVP_PKEY_free(key->pkey);
    OPENSSL_free(key);
}

size_t sigil_rsa_key_size(const sigil_rsa_key *key) { return key == NULL ? 0 : key->size; }

int sigil_rsa_sign_sha256(const sigil_rsa_key *key, const uint8_t *message, size_t message_length,
                          uint8_t *signature, size_t *signature_length) {
    if (key == NULL || signature == NULL || signature_length == NULL) return 0;
    unsigned char digest[32];
    unsigned int digest_length = 0;
    if (EVP_Digest(message, message_length, digest, &digest_length, EVP_sha256(), NULL) != 1 || digest_length != 32) return 0;
    /* A context per call: an EVP_PKEY may be shared between threads, a context may not. */
    EVP_PKEY_CTX *context = EVP_PKEY_CTX_new(key->pkey, NULL);
    if (context == NULL) return 0;
    size_t length = key->size;
    int ok = EVP_PKEY_sign_init(context) == 1 && EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PADDING) == 1 &&
             EVP_PKEY_CTX_set_signature_md(context, EVP_sha256()) == 1 &&
             EVP_PKEY_sign(context, signature, &length, digest, sizeof(digest)) == 1;
    EVP_PKEY_CTX_free(context);
    OPENSSL_cleanse(digest, sizeof(digest));
    if (!ok) return 0;
    *signature_length = length;
    return 1;
}

const char *sigil_openssl_version(void) { return OpenSSL_version(OPENSSL_VERSION); }

/* --- ePassport passive authentication ------------------------------------------------------ */

static void sigil_error(char *error, size_t size, const char *fallback) {
    if (error == NULL || size == 0) return;
    unsigned long code = ERR_get_error();
    if (code != 0) {
        ERR_error_string_n(code, error, size);
    } else {
        snprintf(error, size, "%s", fallback);
    }
    ERR_clear_error();
}

static int sigil_copy_out(const unsigned char *bytes, size_t length, uint8_t **out, size_t *out_length) {
    *out = OPENSSL_malloc(length == 0 ? 1 : length);
    if (*out == NULL) return 0;
    memcpy(*out, bytes, length);
    *out_length = length;
    return 1;
}

int sigil_cms_verify_embedded(const uint8_t *der, size_t length, uint8_t **content, size_t *content_length,
                              uint8_t **signer, size_t *signer_length, char *error, size_t error_size) {
    *content = NULL;
    *signer = NULL;
    if (der == NULL || length == 0 || length > 1024 * 1024) {
        sigil_error(error, error_size, "empty or oversized");
        return 0;
    }
    ERR_clear_error();
    const unsigned char *cursor = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &cursor, (long)length);
    if (cms == NULL || cursor != der + length) {
        sigil_error(error, error_size, "not a DER CMS ContentInfo");
        CMS_ContentInfo_free(cms);
        return 0;
    }
    int ok = 0;
    BIO *out = BIO_new(BIO_s_mem());
    STACK_OF(X509) *signers = NULL;
    if (out == NULL || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
        sigil_error(error, error_size, "not SignedData");
        goto done;
    }
    STACK_OF(CMS_SignerInfo) *infos = CMS_get0_SignerInfos(cms);
    if (infos == NULL || sk_CMS_SignerInfo_num(infos) != 1) {
        sigil_error(error, error_size, "not exactly one SignerInfo");
        goto done;
    }
    /* The signer's certificate is checked by the caller against the CSCA list; here only that
     * it signed this content (CMS_NO_SIGNER_CERT_VERIFY), in binary (no MIME canonicalisation). */
    if (CMS_verify(cms, NULL, NULL, NULL, out, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
        sigil_error(error, error_size, "the signature does not verify");
        goto done;
    }
    signers = CMS_get0_signers(cms);
    if (signers == NULL || sk_X509_num(signers) != 1) {
        sigil_error(error, error_size, "no signer certificate");
        goto done;
    }
    unsigned char *data = NULL;
    long data_length = BIO_get_mem_data(out, &data);
    if (data_length < 0 || !sigil_copy_out(data, (size_t)data_length, content, content_length)) goto done;
    unsigned char *cert = NULL;
    int cert_length = i2d_X509(sk_X509_value(signers, 0), &cert);
    if (cert_length <= 0) goto done;
    ok = sigil_copy_out(cert, (size_t)cert_length, signer, signer_length);
    OPENSSL_free(cert);
done:
    if (!ok) {
        OPENSSL_free(*content);
        *content = NULL;
    }
    sk_X509_free(signers);
    BIO_free(out);
    CMS_ContentInfo_free(cms);
    return ok;
}

static X509 *sigil_x509(const uint8_t *der, size_t length) {
    if (der == NULL || length == 0 || length > 65536) return NULL;
    const unsigned char *cursor = der;
    X509 *x = d2i_X509(NULL, &cursor, (long)length);
    if (x != NULL && cursor != der + length) {
        X509_free(x);
        return NULL;
    }
    return x;
}

int sigil_x509_signed_by(const uint8_t *child, size_t child_length, const uint8_t *issuer, size_t issuer_length) {
    X509 *c = sigil_x509(child, child_length);
    X509 *i = sigil_x509(issuer, issuer_length);
    int ok = 0;
    if (c != NULL && i != NULL && X509_NAME_cmp(X509_get_issuer_name(c), X509_get_subject_name(i)) == 0) {
        EVP_PKEY *key = X509_get0_pubkey(i);
        ok = key != NULL && X509_verify(c, key) == 1;
    }
    ERR_clear_error();
    X509_free(c);
    X509_free(i);
    return ok;
}

size_t sigil_digest_oid(const char *oid, const uint8_t *data, size_t length, uint8_t *out) {
    ASN1_OBJECT *object = OBJ_txt2obj(oid, 1);
    if (object == NULL) return 0;
    int nid = OBJ_obj2nid(object);
    ASN1_OBJECT_free(object);
    const EVP_MD *md = NULL;
    switch (nid) {
    case NID_sha1: md = EVP_sha1(); break;
    case NID_sha224: md = EVP_sha224(); break;
    case NID_sha256: md = EVP_sha256(); break;
    case NID_sha384: md = EVP_sha384(); break;
    case NID_sha512: md = EVP_sha512(); break;
    default: return 0;
    }
    unsigned int size = 0;
    if (EVP_Digest(data, length, out, &size, md, NULL) != 1) return 0;
    return size;
}

int sigil_x509_names(const uint8_t *der, size_t length, char *subject, size_t subject_size, char *issuer, size_t issuer_size) {
    X509 *x = sigil_x509(der, length);
    if (x == NULL) return 0;
    int ok = 1;
    BIO *b = BIO_new(BIO_s_mem());
    char *names[2] = {subject, issuer};
    size_t sizes[2] = {subject_size, issuer_size};
    X509_NAME *values[2] = {X509_get_subject_name(x), X509_get_issuer_name(x)};
    for (int k = 0; k < 2 && ok; k++) {
        (void)BIO_reset(b);
        if (X509_NAME_print_ex(b, values[k], 0, XN_FLAG_RFC2253) < 0) ok = 0;
        char *text = NULL;
        long n = BIO_get_mem_data(b, &text);
        if (n < 0 || sizes[k] == 0) { ok = 0; break; }
        size_t copy = (size_t)n < sizes[k] - 1 ? (size_t)n : sizes[k] - 1;
        memcpy(names[k], text, copy);
        names[k][copy] = 0;
    }
    BIO_free(b);
    X509_free(x);
    return ok;
}

void sigil_free(void *pointer) { OPENSSL_free(pointer); }
