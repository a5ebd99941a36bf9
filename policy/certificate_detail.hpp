// Internal to the certificate reader (policy/certificate*.cpp): a minimal DER
// walker and the inspection step, shared between the split source files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "anchord/certificate.hpp"
#include "anchord/openssl.hpp"

namespace anchord::detail {

// What is wrong with one bundle position. The reader catches it and turns
// it into Error(InvalidCertificate, "certificate N: " + what()).
class EntryProblem : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// One DER tag-length-value, located by offsets into the bytes it came from.
struct Tlv {
    std::uint8_t tag = 0;
    std::size_t offset = 0;  // of the tag byte
    std::size_t header = 0;  // tag and length bytes
    std::size_t length = 0;  // content bytes

    std::size_t content_offset() const noexcept { return offset + header; }
    std::size_t end() const noexcept { return offset + header + length; }
    bool constructed() const noexcept { return (tag & 0x20) != 0; }
    ByteView whole(ByteView der) const noexcept { return der.subspan(offset, header + length); }
    ByteView content(ByteView der) const noexcept { return der.subspan(content_offset(), length); }
};

// Reads the TLV starting at `offset`, which must end at or before `limit`.
// Definite, minimal lengths only: BER forms throw EntryProblem.
Tlv read_tlv(ByteView der, std::size_t offset, std::size_t limit);

// Checks that `der` is exactly one SEQUENCE in strict DER, nothing after it,
// without recursion (nesting is bounded, so hostile depth cannot exhaust the
// stack of any later parser). Returns the outer SEQUENCE.
Tlv check_der_structure(ByteView der);

// The TBSCertificate's parts the kernel reads raw, located in the DER.
struct TbsLayout {
    Tlv tbs;
    Tlv serial;
    Tlv issuer;
    Tlv subject;
};
TbsLayout locate_tbs(ByteView der, const Tlv& outer);

// Decodes `der` into an OpenSSL object without its public key (see
// Certificate); `end` is left after the bytes read. Null when OpenSSL
// cannot read it (its reason in the error queue).
ossl::X509Ptr read_x509(ByteView der, const unsigned char** end);
// The certificate's public key as OpenSSL's default library context loads
// it; null when it cannot.
ossl::EvpPkeyPtr load_public_key(ByteView der);
// Whether `key` verifies the signature of the certificate `der`, which
// OpenSSL decoded into `x509`.
bool verify_signature(ByteView der, X509* x509, EVP_PKEY* key);

// Inspects a certificate whose DER has passed check_der_structure and that
// OpenSSL decoded into `x509`. Throws EntryProblem for a certificate that
// decodes but is unusable (an undecodable or repeated extension, a bad time).
CertificateInfo inspect(ByteView der, const TbsLayout& layout, X509* x509);

// The description the Linux kernel's X.509 parser gives the key
// (crypto/asymmetric_keys/x509_cert_parser.c: x509_fabricate_name, and
// x509_public_key.c: x509_key_preparse).
std::string kernel_key_description(ByteView der, const TbsLayout& layout,
                                   const std::optional<Bytes>& subject_key_id);

// Quotes untrusted bytes for an error message: printable ASCII as is, the
// rest as \xNN, cut after `max` bytes.
std::string quote(ByteView bytes, std::size_t max = 40);

}  // namespace anchord::detail
