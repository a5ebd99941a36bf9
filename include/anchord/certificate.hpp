// Reading certificates from bytes and inspecting them into plain values.
// Part of the policy library: no system calls, OpenSSL only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "anchord/error.hpp"
#include "anchord/types.hpp"

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

namespace anchord {

enum class KeyAlgorithm : std::uint8_t {
    Unknown,
    Rsa,
    RsaPss,
    Ecdsa,
    Ed25519,
    Ed448,
    Dsa,
    MlDsa44,
    MlDsa65,
    MlDsa87,
    Sm2,
};
std::string_view to_string(KeyAlgorithm a) noexcept;  // "rsa", "ecdsa", "ml-dsa-65", ...
std::optional<KeyAlgorithm> parse_key_algorithm(std::string_view name) noexcept;

enum class HashAlgorithm : std::uint8_t {
    Unknown,
    None,  // pure signature schemes (Ed25519, ML-DSA) hash internally
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha3_256,
    Sha3_384,
    Sha3_512,
    Sm3,
};
std::string_view to_string(HashAlgorithm h) noexcept;  // "sha256", "sha3-384", ...
std::optional<HashAlgorithm> parse_hash_algorithm(std::string_view name) noexcept;

struct PublicKeyInfo {
    KeyAlgorithm algorithm = KeyAlgorithm::Unknown;
    int bits = 0;       // RSA/DSA modulus size, EC field size, ...
    std::string curve;  // "P-256", "P-384", "P-521", "secp256k1", "" when not EC
    std::string oid;    // the SubjectPublicKeyInfo algorithm OID, dotted
};

struct SignatureInfo {
    std::string name;  // OpenSSL's long name or the dotted OID when unknown
    std::string oid;
    KeyAlgorithm key_algorithm = KeyAlgorithm::Unknown;
    HashAlgorithm hash = HashAlgorithm::Unknown;
};

// keyUsage bits, numbered as in RFC 5280 (digitalSignature is bit 0).
namespace key_usage {
inline constexpr std::uint16_t digital_signature = 1u << 0;
inline constexpr std::uint16_t non_repudiation = 1u << 1;
inline constexpr std::uint16_t key_encipherment = 1u << 2;
inline constexpr std::uint16_t data_encipherment = 1u << 3;
inline constexpr std::uint16_t key_agreement = 1u << 4;
inline constexpr std::uint16_t key_cert_sign = 1u << 5;
inline constexpr std::uint16_t crl_sign = 1u << 6;
inline constexpr std::uint16_t encipher_only = 1u << 7;
inline constexpr std::uint16_t decipher_only = 1u << 8;
}  // namespace key_usage
// "digitalSignature", "keyCertSign", ... (RFC 5280 names); empty on unknown.
std::string_view key_usage_name(std::uint16_t bit) noexcept;
std::optional<std::uint16_t> parse_key_usage(std::string_view name) noexcept;

struct CertificateInfo {
    std::string subject;  // one line, RFC 2253 order
    std::string issuer;
    std::string serial_hex;
    Fingerprint fingerprint;  // SHA-256 of the DER
    Sha256 tbs_sha256;        // SHA-256 of the TBSCertificate (the kernel's "tbs:" hash)
    std::optional<Bytes> subject_key_id;
    std::optional<Bytes> authority_key_id;        // keyIdentifier of the AKID
    std::optional<std::string> authority_issuer;  // authorityCertIssuer of the AKID
    std::optional<std::string> authority_serial_hex;
    PublicKeyInfo public_key;
    SignatureInfo signature;
    bool basic_constraints_present = false;
    bool is_ca = false;
    std::optional<int> path_len;
    std::optional<std::uint16_t> key_usage;       // nullopt when the extension is absent
    std::vector<std::string> extended_key_usage;  // short names ("codeSigning") or dotted OIDs
    std::chrono::sys_seconds not_before{};
    std::chrono::sys_seconds not_after{};
    // OpenSSL's hashes of the canonical subject and issuer names, as
    // `openssl x509 -subject_hash` prints them: names that compare equal have
    // equal hashes, so unequal hashes rule out an issuer without comparing
    // the names. nullopt when OpenSSL could not hash (no SHA-1).
    std::optional<std::uint32_t> subject_name_hash;
    std::optional<std::uint32_t> issuer_name_hash;
    bool self_issued = false;  // subject == issuer
    bool self_signed = false;  // self-issued and its own key verifies its signature
    // The description the kernel's X.509 parser gives the key
    // ("<CN or O>: <SKID hex or serial hex>"), as keyctl describe shows it.
    std::string kernel_description;
};

// A certificate read from bytes: its DER, the inspected values and the
// OpenSSL object for its names and fields. Cheap to copy: all are shared,
// and the daemon copies certificates into every trust snapshot and index.
//
// The OpenSSL object holds no decoded public key: OpenSSL 3.0 loads one
// through its provider decoders, some 70 us a key, most of what reading a
// certificate would cost, and only an issuer's key is ever used (to check
// what it signed). public_key() decodes it on first use and keeps it.
//
// The OpenSSL object may be left out too: a copy made with without_x509()
// decodes it again from the DER the first time x509() is asked for, and
// keeps it. The daemon keeps its recorded leaves that way: a verdict only
// needs the objects of the certificates on a chain.
class Certificate {
  public:
    Certificate(SharedBytes der, std::shared_ptr<X509> x509, CertificateInfo info)
        : parts_(std::make_shared<const Parts>(std::move(der), std::move(x509), std::move(info))) {}
    // Declared so that a move copies: a moved-from certificate stays whole.
    Certificate(const Certificate&) = default;
    Certificate& operator=(const Certificate&) = default;

    const Bytes& der() const noexcept { return parts_->der; }
    // The same bytes, for a holder that keeps them: shared, not copied.
    const SharedBytes& shared_der() const noexcept { return parts_->der; }
    const CertificateInfo& info() const noexcept { return parts_->info; }
    // Never null. Safe to call from several threads at once; once decoded,
    // the object lives as long as any copy of this certificate. Throws
    // Error(Internal) only when OpenSSL cannot allocate it. Its public key
    // is not loaded (X509_get0_pubkey gives null): use public_key().
    X509* x509() const;
    // The subject public key, decoded by OpenSSL on first use and kept as
    // long as any copy of this certificate; null when OpenSSL cannot load
    // it (an unknown algorithm, a malformed key). Thread-safe like x509().
    EVP_PKEY* public_key() const;
    // Whether `issuer_key` verifies this certificate's signature over its
    // TBSCertificate as it stands in the DER. A failure leaves OpenSSL's
    // reason in its error queue.
    bool signature_verified_by(EVP_PKEY* issuer_key) const;

    // A certificate with the same DER and values that holds no OpenSSL
    // object until x509() is first called. The DER must be one this library
    // read: it is decoded again without the checks of parse_der_certificate.
    Certificate without_x509() const;
    // Whether the OpenSSL object is held now (x509() would not decode).
    bool holds_x509() const noexcept { return parts_->x509.load() != nullptr; }

  private:
    struct Parts {
        Parts(SharedBytes d, std::shared_ptr<X509> x, CertificateInfo i)
            : der(std::move(d)), info(std::move(i)), x509(std::move(x)) {}
        SharedBytes der;
        CertificateInfo info;
        // Set at most once after construction (from null), never replaced,
        // so the pointer x509() returns stays valid while the parts live.
        mutable std::atomic<std::shared_ptr<X509>> x509;
        // Likewise; stays null while the key is not asked for or not loadable.
        mutable std::atomic<std::shared_ptr<EVP_PKEY>> public_key;
        mutable std::atomic<bool> public_key_tried{false};
    };
    std::shared_ptr<const Parts> parts_;
};

struct ReadLimits {
    std::size_t max_bytes = 1024 * 1024;
    std::size_t max_certificates = 1000;
};

// One certificate position of a bundle: either a certificate or the reason
// that position could not be read. `der` holds the bytes of that position
// (decoded from PEM where needed) so the caller can still show or hash them.
struct BundleEntry {
    std::size_t index = 0;  // 0-based position in the bundle
    Bytes der;
    std::optional<Certificate> certificate;
    std::optional<Error> error;  // code InvalidCertificate, message names the position
};

// Reads DER (one certificate), PEM, or a PEM bundle. Whole-input problems
// (over max_bytes, over max_certificates, no certificate at all) throw
// Error(InvalidArgument / InvalidCertificate); a bad entry becomes an entry
// with `error` and does not stop the others.
std::vector<BundleEntry> read_bundle(ByteView bytes, const ReadLimits& limits = {});

// Runs body(0) ... body(count - 1), in any order and on any threads, and
// returns when all have returned (rethrowing the first exception).
using ForEach =
    std::function<void(std::size_t count, const std::function<void(std::size_t)>& body)>;

// As read_bundle, with the certificates of a PEM bundle decoded through
// `for_each`: the caller decides whether decoding (OpenSSL 3.0 spends about
// as long on one certificate as the kernel spends linking it) runs on
// threads; this library makes none.
std::vector<BundleEntry> read_bundle(ByteView bytes, const ReadLimits& limits,
                                     const ForEach& for_each);

// read_bundle in two steps, for a caller that decodes each certificate when
// it gets to it (anchord decodes the rest of a batch while the kernel links
// its first part): split_bundle throws what read_bundle throws and returns
// every position with its DER, or its error where it has no certificate to
// decode; decode_entry then sets `certificate` or `error` (once; any thread).
std::vector<BundleEntry> split_bundle(ByteView bytes, const ReadLimits& limits = {});
void decode_entry(BundleEntry& entry);

// As read_bundle, but throws the first entry's error: for callers that need
// every certificate good (policy anchors, state files).
std::vector<Certificate> read_certificates(ByteView bytes, const ReadLimits& limits = {});

// Exactly one DER certificate, nothing after it.
Certificate parse_der_certificate(ByteView der);
// The same, keeping `der` itself (shared) rather than a copy of it.
Certificate parse_shared_der_certificate(const SharedBytes& der);

}  // namespace anchord
