#include "sigil_openssl.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
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
