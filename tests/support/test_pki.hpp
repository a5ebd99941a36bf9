// A small PKI built in process with OpenSSL, so tests carry no opaque binary
// fixtures: roots, intermediates and leaves with chosen algorithms,
// extensions and validity, and deliberately broken ones.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "anchord/openssl.hpp"
#include "anchord/types.hpp"

namespace anchord::testing {

enum class KeyType {
    Rsa1024,
    Rsa2048,
    Rsa3072,
    Rsa4096,
    P256,
    P384,
    P521,
    Secp256k1,
    Ed25519,
    Dsa2048
};

struct CertSpec {
    std::string common_name = "anchord test";
    std::string organization;       // empty: no O attribute
    bool basic_constraints = true;  // false: no basicConstraints extension at all
    bool ca = false;
    std::optional<int> path_len;
    std::optional<std::uint16_t> key_usage;       // anchord::key_usage bits; nullopt: no extension
    std::vector<std::string> extended_key_usage;  // "codeSigning", "1.2.3.4", ...
    bool subject_key_id = true;
    bool authority_key_id = true;
    std::optional<Bytes> authority_key_id_override;      // a wrong AKID on purpose
    std::optional<std::chrono::sys_seconds> not_before;  // default: an hour ago
    std::optional<std::chrono::sys_seconds> not_after;   // default: in 365 days
    std::string digest = "SHA256";                       // EVP_MD name; ignored for Ed25519
    std::optional<std::uint64_t> serial;                 // default: random
};

// Common shapes.
CertSpec ca_spec(std::string common_name);       // CA:TRUE, keyCertSign|cRLSign
CertSpec signing_spec(std::string common_name);  // CA:FALSE, digitalSignature, codeSigning

struct TestCert {
    std::shared_ptr<EVP_PKEY> key;
    std::shared_ptr<X509> x509;
    Bytes der;

    std::string pem() const;
    Bytes pem_bytes() const;
};

std::shared_ptr<EVP_PKEY> generate_key(KeyType type);

// Self-signed with a fresh key of `type` (or `key` if given).
TestCert make_self_signed(const CertSpec& spec, KeyType type = KeyType::Rsa2048,
                          std::shared_ptr<EVP_PKEY> key = nullptr);
// Signed by `issuer`.
TestCert make_signed(const CertSpec& spec, const TestCert& issuer, KeyType type = KeyType::Rsa2048,
                     std::shared_ptr<EVP_PKEY> key = nullptr);

// Copies of a DER certificate with one flaw each.
Bytes tamper_signature(const Bytes& der);  // flips a bit of the signature
Bytes tamper_tbs(const Bytes& der);        // flips a bit inside the subject name

// Whether `err` is the kernel's answer to tamper_signature() under an RSA
// issuer. Which of two it is depends on the value the flipped signature
// recovers to, so a per-run PKI sees both: EINVAL when that value lacks
// RFC 8017's leading zero byte, EBADMSG when it has one (about once in
// 128-256 flips, by the modulus's top byte) and the padding after it is
// wrong. Measured: 8 EBADMSG in 1,600 flips under one RSA-2048 key.
bool is_tampered_signature_errno(int err);

// A ready chain: RSA-2048 root (CA) -> intermediate (CA) -> signing leaf.
struct Chain {
    TestCert root;
    TestCert intermediate;
    TestCert leaf;
};
Chain make_chain(KeyType leaf_type = KeyType::Rsa2048);

// The DER of `x` (i2d_X509); throws std::runtime_error when it has none.
Bytes to_der(X509* x);

}  // namespace anchord::testing
