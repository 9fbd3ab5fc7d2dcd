/* Key pairs: generation by type name, PEM load/save (atomic, 0600 for private keys). */
#ifndef COBBLE_KEYS_H
#define COBBLE_KEYS_H
#include <openssl/evp.h>

/* type: "ec256", "ec384", "rsa2048", "rsa3072", "rsa4096". NULL on unknown type or failure. */
EVP_PKEY *key_generate(const char *type);
/* 1 if type is one of the names above. */
int key_type_valid(const char *type);
/* Writes the private key as PKCS#8 PEM, atomically, mode 0600. 0 or -1. */
int key_save_private(const char *path, EVP_PKEY *key);
/* Loads a private key PEM (PKCS#8, SEC1 or PKCS#1). NULL on error. */
EVP_PKEY *key_load_private(const char *path);
/* A short description ("ECDSA P-256", "RSA 2048") into buf. */
const char *key_describe(EVP_PKEY *key, char *buf, size_t len);

#endif
