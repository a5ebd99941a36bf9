// The certificate reader and inspector: what it accepts, what it refuses and
// why, every inspected field, and the kernel's key description checked
// against the real kernel in a private session keyring.
#include "anchord/certificate.hpp"

#include <gtest/gtest.h>
#include <keyutils.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "anchord/openssl.hpp"
#include "test_pki.hpp"

namespace anchord {
namespace {

using namespace std::chrono;
using namespace std::string_literals;
using testing::CertSpec;
using testing::KeyType;
using testing::make_self_signed;
using testing::make_signed;
using testing::TestCert;
using testing::to_der;

// ---- helpers --------------------------------------------------------------

ByteView view(const std::string& s) {
    return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

// A DER length, for building test inputs by hand.
Bytes der_length(std::size_t n) {
    if (n < 0x80) return {static_cast<std::uint8_t>(n)};
    Bytes digits;
    for (; n != 0; n >>= 8) digits.insert(digits.begin(), static_cast<std::uint8_t>(n & 0xff));
    Bytes out{static_cast<std::uint8_t>(0x80 | digits.size())};
    out.insert(out.end(), digits.begin(), digits.end());
    return out;
}

// A DER tree, to edit one field of a certificate and re-encode every
// enclosing length (test inputs only; shallow, so recursion is fine here).
struct Node {
    std::uint8_t tag = 0;
    Bytes content;           // primitive
    std::vector<Node> kids;  // constructed
    bool constructed() const { return (tag & 0x20) != 0; }
};

Node parse_node(ByteView in, std::size_t& pos) {
    Node n;
    n.tag = in[pos++];
    std::size_t len = in[pos++];
    if (len & 0x80) {
        const std::size_t count = len & 0x7f;
        len = 0;
        for (std::size_t i = 0; i < count; ++i) len = len << 8 | in[pos++];
    }
    const std::size_t end = pos + len;
    if (n.constructed()) {
        while (pos < end) n.kids.push_back(parse_node(in, pos));
    } else {
        n.content.assign(in.begin() + static_cast<long>(pos), in.begin() + static_cast<long>(end));
        pos = end;
    }
    return n;
}

Node parse_tree(const Bytes& der) {
    std::size_t pos = 0;
    return parse_node(der, pos);
}

Bytes encode(const Node& n) {
    Bytes body = n.content;
    for (const auto& k : n.kids) {
        Bytes kb = encode(k);
        body.insert(body.end(), kb.begin(), kb.end());
    }
    Bytes out{n.tag};
    Bytes len = der_length(body.size());
    out.insert(out.end(), len.begin(), len.end());
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

// Certificate -> TBSCertificate -> [3] extensions -> SEQUENCE -> the one
// whose extnID is `oid` (content octets).
Node& extension_node(Node& cert, const Bytes& oid) {
    for (auto& field : cert.kids[0].kids) {
        if (field.tag != 0xa3) continue;
        for (auto& ext : field.kids[0].kids) {
            if (ext.kids[0].content == oid) return ext;
        }
    }
    throw std::runtime_error("no such extension");
}

const Bytes kOidSkid{0x55, 0x1d, 0x0e};
const Bytes kOidBasicConstraints{0x55, 0x1d, 0x13};

// The TBSCertificate's bytes found by hand: the first element of the outer
// SEQUENCE, header included.
ByteView tbs_by_hand(const Bytes& der) {
    auto header = [&](std::size_t pos, std::size_t& len) {
        std::size_t h = 2;
        len = der[pos + 1];
        if (len & 0x80) {
            const std::size_t count = len & 0x7f;
            len = 0;
            for (std::size_t i = 0; i < count; ++i) len = len << 8 | der[pos + 2 + i];
            h += count;
        }
        return h;
    };
    std::size_t outer_len = 0;
    const std::size_t outer_header = header(0, outer_len);
    std::size_t tbs_len = 0;
    const std::size_t tbs_header = header(outer_header, tbs_len);
    return ByteView(der).subspan(outer_header, tbs_header + tbs_len);
}

Sha256 sha256(ByteView data) {
    Sha256 d;
    SHA256(data.data(), data.size(), d.bytes.data());
    return d;
}

// OpenSSL's "hash" subjectKeyIdentifier: SHA-1 of the public key bits.
Bytes skid_by_hand(const TestCert& c) {
    const ASN1_BIT_STRING* bits = X509_get0_pubkey_bitstr(c.x509.get());
    Bytes out(SHA_DIGEST_LENGTH);
    SHA1(ASN1_STRING_get0_data(bits), static_cast<std::size_t>(ASN1_STRING_length(bits)),
         out.data());
    return out;
}

std::string private_key_pem(EVP_PKEY* key) {
    ossl::BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio ||
        PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
        throw std::runtime_error("PEM_write_bio_PrivateKey");
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

// Base64 of arbitrary bytes in 64-column PEM lines.
std::string pem_block(const std::string& label, const Bytes& der) {
    std::string b64(4 * ((der.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), der.data(),
                                  static_cast<int>(der.size()));
    b64.resize(static_cast<std::size_t>(n));
    std::string out = "-----BEGIN " + label + "-----\n";
    for (std::size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
    return out + "-----END " + label + "-----\n";
}

// A SEQUENCE nested as deep as fits in `budget` bytes.
Bytes deep_nesting(std::size_t budget) {
    std::vector<std::size_t> lengths{0};  // content length of each level, innermost first
    for (;;) {
        const std::size_t inner = lengths.back();
        const std::size_t next = inner + 1 + der_length(inner).size();
        if (next + 1 + der_length(next).size() > budget) break;
        lengths.push_back(next);
    }
    Bytes out;
    out.reserve(budget);
    for (auto it = lengths.rbegin(); it != lengths.rend(); ++it) {
        out.push_back(0x30);
        Bytes len = der_length(*it);
        out.insert(out.end(), len.begin(), len.end());
    }
    return out;
}

// A copy of `base` with a new subject (and issuer, so it stays
// self-issued), re-signed by its own key.
TestCert with_name(const TestCert& base, X509_NAME* name, bool keep_skid = true) {
    ossl::X509Ptr x(X509_dup(base.x509.get()));
    if (!x || X509_set_subject_name(x.get(), name) != 1 || X509_set_issuer_name(x.get(), name) != 1)
        throw std::runtime_error("with_name");
    if (!keep_skid) {
        const int i = X509_get_ext_by_NID(x.get(), NID_subject_key_identifier, -1);
        ossl::X509ExtensionPtr gone(X509_delete_ext(x.get(), i));
    }
    if (X509_sign(x.get(), base.key.get(), EVP_sha256()) <= 0)
        throw std::runtime_error("X509_sign");
    TestCert out;
    out.key = base.key;
    out.der = to_der(x.get());
    out.x509 = std::shared_ptr<X509>(x.release(), X509_free);
    return out;
}

struct NameBuilder {
    ossl::X509NamePtr name{X509_NAME_new()};
    // A raw string type (not an MBSTRING_ flag), so OpenSSL neither converts
    // nor limits the value: the kernel sees exactly these bytes.
    NameBuilder& add(const char* field, const std::string& bytes, int type = V_ASN1_UTF8STRING) {
        if (X509_NAME_add_entry_by_txt(name.get(), field, type,
                                       reinterpret_cast<const unsigned char*>(bytes.data()),
                                       static_cast<int>(bytes.size()), -1, 0) != 1)
            throw std::runtime_error("X509_NAME_add_entry_by_txt");
        return *this;
    }
};

void expect_entry_error(const BundleEntry& e, std::size_t index) {
    EXPECT_EQ(e.index, index);
    ASSERT_TRUE(e.error.has_value());
    EXPECT_FALSE(e.certificate.has_value());
    EXPECT_EQ(e.error->code(), ErrorCode::InvalidCertificate);
    EXPECT_NE(std::string(e.error->what()).find("certificate " + std::to_string(index + 1) + ":"),
              std::string::npos)
        << e.error->what();
}

void expect_good(const BundleEntry& e, const TestCert& c, std::size_t index) {
    EXPECT_EQ(e.index, index);
    EXPECT_FALSE(e.error.has_value()) << e.error->what();
    ASSERT_TRUE(e.certificate.has_value());
    EXPECT_EQ(e.der, c.der);
    EXPECT_EQ(e.certificate->der(), c.der);
    EXPECT_EQ(e.certificate->info().fingerprint, Fingerprint::of_der(c.der));
}

// A DER that is a single certificate position with a problem.
void expect_bad_der(const Bytes& der) {
    auto entries = read_bundle(der);
    ASSERT_EQ(entries.size(), 1u);
    expect_entry_error(entries[0], 0);
    EXPECT_EQ(entries[0].der, der);
    try {
        parse_der_certificate(der);
        ADD_FAILURE() << "parse_der_certificate accepted it";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidCertificate);
    }
    try {
        read_certificates(der);
        ADD_FAILURE() << "read_certificates accepted it";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidCertificate);
    }
}

ErrorCode code_of_read(ByteView bytes, const ReadLimits& limits = {},
                       std::string* message = nullptr) {
    try {
        read_bundle(bytes, limits);
    } catch (const Error& e) {
        if (message) *message = e.what();
        return e.code();
    }
    ADD_FAILURE() << "read_bundle did not throw";
    return ErrorCode::Internal;
}

const TestCert& rsa_root() {
    static const TestCert c = make_self_signed(testing::ca_spec("anchord test root"));
    return c;
}

CertificateInfo inspect(const Bytes& der) {
    return parse_der_certificate(der).info();
}

// ---- names ----------------------------------------------------------------

TEST(CertificateNames, KeyAlgorithmsRoundTrip) {
    const std::vector<std::pair<KeyAlgorithm, std::string>> all{
        {KeyAlgorithm::Unknown, "unknown"},
        {KeyAlgorithm::Rsa, "rsa"},
        {KeyAlgorithm::RsaPss, "rsa-pss"},
        {KeyAlgorithm::Ecdsa, "ecdsa"},
        {KeyAlgorithm::Ed25519, "ed25519"},
        {KeyAlgorithm::Ed448, "ed448"},
        {KeyAlgorithm::Dsa, "dsa"},
        {KeyAlgorithm::MlDsa44, "ml-dsa-44"},
        {KeyAlgorithm::MlDsa65, "ml-dsa-65"},
        {KeyAlgorithm::MlDsa87, "ml-dsa-87"},
        {KeyAlgorithm::Sm2, "sm2"}};
    for (const auto& [a, name] : all) {
        EXPECT_EQ(to_string(a), name);
        EXPECT_EQ(parse_key_algorithm(name), a);
    }
    EXPECT_FALSE(parse_key_algorithm("RSA").has_value());
    EXPECT_FALSE(parse_key_algorithm("").has_value());
}

TEST(CertificateNames, HashAlgorithmsRoundTrip) {
    const std::vector<std::pair<HashAlgorithm, std::string>> all{
        {HashAlgorithm::Md5, "md5"},           {HashAlgorithm::Sha1, "sha1"},
        {HashAlgorithm::Sha224, "sha224"},     {HashAlgorithm::Sha256, "sha256"},
        {HashAlgorithm::Sha384, "sha384"},     {HashAlgorithm::Sha512, "sha512"},
        {HashAlgorithm::Sha3_256, "sha3-256"}, {HashAlgorithm::Sha3_384, "sha3-384"},
        {HashAlgorithm::Sha3_512, "sha3-512"}, {HashAlgorithm::Sm3, "sm3"},
        {HashAlgorithm::None, "none"},         {HashAlgorithm::Unknown, "unknown"}};
    for (const auto& [h, name] : all) {
        EXPECT_EQ(to_string(h), name);
        EXPECT_EQ(parse_hash_algorithm(name), h);
    }
    EXPECT_FALSE(parse_hash_algorithm("SHA256").has_value());
    EXPECT_FALSE(parse_hash_algorithm("sha3_256").has_value());
}

TEST(CertificateNames, KeyUsageUsesRfc5280Names) {
    const std::vector<std::pair<std::uint16_t, std::string>> all{
        {key_usage::digital_signature, "digitalSignature"},
        {key_usage::non_repudiation, "nonRepudiation"},
        {key_usage::key_encipherment, "keyEncipherment"},
        {key_usage::data_encipherment, "dataEncipherment"},
        {key_usage::key_agreement, "keyAgreement"},
        {key_usage::key_cert_sign, "keyCertSign"},
        {key_usage::crl_sign, "cRLSign"},
        {key_usage::encipher_only, "encipherOnly"},
        {key_usage::decipher_only, "decipherOnly"}};
    for (const auto& [bit, name] : all) {
        EXPECT_EQ(key_usage_name(bit), name);
        EXPECT_EQ(parse_key_usage(name), bit);
    }
    EXPECT_EQ(key_usage_name(key_usage::digital_signature | key_usage::crl_sign), "");
    EXPECT_EQ(key_usage_name(1u << 9), "");
    EXPECT_FALSE(parse_key_usage("digitalsignature").has_value());
}

// ---- reading --------------------------------------------------------------

TEST(CertificateRead, DefaultLimits) {
    ReadLimits l;
    EXPECT_EQ(l.max_bytes, 1024u * 1024u);
    EXPECT_EQ(l.max_certificates, 1000u);
}

TEST(CertificateRead, SingleDer) {
    const auto& c = rsa_root();
    auto entries = read_bundle(c.der);
    ASSERT_EQ(entries.size(), 1u);
    expect_good(entries[0], c, 0);
    EXPECT_NE(entries[0].certificate->x509(), nullptr);
    EXPECT_EQ(parse_der_certificate(c.der).der(), c.der);
    ASSERT_EQ(read_certificates(c.der).size(), 1u);
}

TEST(CertificateRead, SinglePem) {
    const auto& c = rsa_root();
    auto entries = read_bundle(c.pem_bytes());
    ASSERT_EQ(entries.size(), 1u);
    expect_good(entries[0], c, 0);
}

TEST(CertificateRead, PemBundleOfThreeInOrder) {
    auto chain = testing::make_chain();
    const std::string bundle = chain.leaf.pem() + chain.intermediate.pem() + chain.root.pem();
    auto entries = read_bundle(view(bundle));
    ASSERT_EQ(entries.size(), 3u);
    expect_good(entries[0], chain.leaf, 0);
    expect_good(entries[1], chain.intermediate, 1);
    expect_good(entries[2], chain.root, 2);
    auto certs = read_certificates(view(bundle));
    ASSERT_EQ(certs.size(), 3u);
    EXPECT_EQ(certs[2].der(), chain.root.der);
}

TEST(CertificateRead, PemWithCommentsBlankLinesAndCrlf) {
    auto chain = testing::make_chain();
    auto crlf = [](std::string s) {
        std::string out;
        for (char c : s) out += c == '\n' ? "\r\n"s : std::string(1, c);
        return out;
    };
    const std::string bundle = "# anchord test bundle\n\n# Subject: CN=leaf\n" + chain.leaf.pem() +
                               "\n   \n# Subject: CN=root\r\n" + crlf(chain.root.pem()) +
                               "\n# end\n";
    auto entries = read_bundle(view(bundle));
    ASSERT_EQ(entries.size(), 2u);
    expect_good(entries[0], chain.leaf, 0);
    expect_good(entries[1], chain.root, 1);
}

TEST(CertificateRead, PemAfterAByteOrderMark) {
    auto entries = read_bundle(view("\xef\xbb\xbf" + rsa_root().pem()));
    ASSERT_EQ(entries.size(), 1u);
    expect_good(entries[0], rsa_root(), 0);
}

TEST(CertificateRead, RejectsTrailingGarbageAfterDer) {
    Bytes der = rsa_root().der;
    der.push_back(0x00);
    der.push_back(0x42);
    expect_bad_der(der);
}

TEST(CertificateRead, RejectsTrailingCertificateAfterDer) {
    Bytes der = rsa_root().der;
    der.insert(der.end(), rsa_root().der.begin(), rsa_root().der.end());
    expect_bad_der(der);
}

TEST(CertificateRead, RejectsTruncatedDer) {
    const Bytes& full = rsa_root().der;
    expect_bad_der(Bytes(full.begin(), full.end() - 10));
    expect_bad_der(Bytes(full.begin(), full.begin() + 3));
}

TEST(CertificateRead, RejectsBerIndefiniteLength) {
    // The same certificate with the outer SEQUENCE in BER indefinite form.
    const Bytes& der = rsa_root().der;
    const std::size_t header = 2 + (der[1] & 0x7f);
    Bytes ber{0x30, 0x80};
    ber.insert(ber.end(), der.begin() + static_cast<long>(header), der.end());
    ber.push_back(0x00);
    ber.push_back(0x00);
    expect_bad_der(ber);
}

TEST(CertificateRead, RejectsNonMinimalLength) {
    const Bytes& der = rsa_root().der;
    ASSERT_EQ(der[1], 0x82);
    Bytes longer{0x30, 0x83, 0x00};
    longer.insert(longer.end(), der.begin() + 2, der.end());
    expect_bad_der(longer);

    // Deeper inside: the TBSCertificate's length in four bytes instead of two.
    Bytes inner{der.begin(), der.begin() + 4};
    ASSERT_EQ(der[5], 0x82);
    const Bytes tbs_len{der[6], der[7]};
    inner.insert(inner.end(), {0x30, 0x84, 0x00, 0x00, tbs_len[0], tbs_len[1]});
    inner.insert(inner.end(), der.begin() + 8, der.end());
    const std::size_t outer_len = inner.size() - 4;
    inner[2] = static_cast<std::uint8_t>(outer_len >> 8);
    inner[3] = static_cast<std::uint8_t>(outer_len & 0xff);
    expect_bad_der(inner);
}

TEST(CertificateRead, RejectsBerBooleanInsideTbs) {
    // basicConstraints critical TRUE written as 0x01: valid BER, not DER.
    Node cert = parse_tree(rsa_root().der);
    Node& bc = extension_node(cert, kOidBasicConstraints);
    ASSERT_EQ(bc.kids[1].tag, 0x01);
    bc.kids[1].content = {0x01};
    expect_bad_der(encode(cert));
}

TEST(CertificateRead, RejectsEncodedDefaultInsideTbs) {
    // An explicit critical FALSE: well-formed, but DER omits DEFAULT values.
    // OpenSSL keeps it as written when re-encoding, so it is checked by hand.
    Node cert = parse_tree(rsa_root().der);
    Node& skid = extension_node(cert, kOidSkid);
    ASSERT_EQ(skid.kids.size(), 2u);
    skid.kids.insert(skid.kids.begin() + 1, Node{0x01, {0x00}, {}});
    expect_bad_der(encode(cert));

    // The DEFAULT version v1 written out.
    Node v1 = parse_tree(rsa_root().der);
    Node& version = v1.kids[0].kids[0];
    ASSERT_EQ(version.tag, 0xa0);
    ASSERT_EQ(version.kids[0].content, Bytes{0x02});
    version.kids[0].content = {0x00};
    expect_bad_der(encode(v1));
}

TEST(CertificateRead, RejectsDuplicateExtension) {
    ossl::X509Ptr x(X509_dup(rsa_root().x509.get()));
    ASSERT_TRUE(x);
    X509_EXTENSION* bc =
        X509_get_ext(x.get(), X509_get_ext_by_NID(x.get(), NID_basic_constraints, -1));
    ASSERT_EQ(X509_add_ext(x.get(), bc, -1), 1);
    ASSERT_GT(X509_sign(x.get(), rsa_root().key.get(), EVP_sha256()), 0);
    expect_bad_der(to_der(x.get()));
}

TEST(CertificateRead, RejectsSignatureAlgorithmMismatch) {
    Node cert = parse_tree(rsa_root().der);
    // sha384WithRSAEncryption outside, sha256WithRSAEncryption in the TBS.
    cert.kids[1].kids[0].content = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c};
    expect_bad_der(encode(cert));
}

TEST(CertificateRead, RejectsNotACertificate) {
    // DER of the right outer shape that is no certificate.
    Bytes seq{0x30, 0x81, 0x80};
    seq.insert(seq.end(), 0x80, 0x05);
    expect_bad_der(seq);
}

TEST(CertificateRead, OneMebibyteOfNestingIsACleanError) {
    const Bytes deep = deep_nesting(1024 * 1024);
    ASSERT_GT(deep.size(), 1024u * 1024u - 8);
    ASSERT_LE(deep.size(), 1024u * 1024u);
    expect_bad_der(deep);

    // The same hostile shape inside PEM (smaller, as base64 grows it).
    const Bytes half = deep_nesting(512 * 1024);
    const std::string bundle = rsa_root().pem() + pem_block("CERTIFICATE", half);
    auto entries = read_bundle(view(bundle));
    ASSERT_EQ(entries.size(), 2u);
    expect_good(entries[0], rsa_root(), 0);
    expect_entry_error(entries[1], 1);
    EXPECT_EQ(entries[1].der, half);
}

TEST(CertificateRead, BadBase64IsThatEntryOnly) {
    auto chain = testing::make_chain();
    std::string bad = chain.intermediate.pem();
    bad[40] = '!';
    const std::string bundle = chain.leaf.pem() + bad + chain.root.pem();
    auto entries = read_bundle(view(bundle));
    ASSERT_EQ(entries.size(), 3u);
    expect_good(entries[0], chain.leaf, 0);
    expect_entry_error(entries[1], 1);
    expect_good(entries[2], chain.root, 2);
    try {
        read_certificates(view(bundle));
        ADD_FAILURE() << "read_certificates accepted a bad entry";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidCertificate);
        EXPECT_NE(std::string(e.what()).find("certificate 2"), std::string::npos) << e.what();
    }
}

TEST(CertificateRead, BadBase64Shapes) {
    const Bytes& der = rsa_root().der;
    const std::string good = pem_block("CERTIFICATE", der);
    auto second_entry = [&](const std::string& block) {
        auto entries = read_bundle(view(good + block));
        EXPECT_EQ(entries.size(), 2u);
        if (entries.size() == 2) {
            expect_good(entries[0], rsa_root(), 0);
            expect_entry_error(entries[1], 1);
        }
    };
    // One character missing: not a multiple of 4.
    std::string shorter = good;
    shorter.erase(30, 1);
    second_entry(shorter);
    // Data after padding.
    Bytes odd(der.begin(), der.end() - 1);  // 1 byte short: ends with padding
    std::string padded = pem_block("CERTIFICATE", odd);
    const auto eq = padded.find('=');
    ASSERT_NE(eq, std::string::npos);
    padded.insert(eq + 1, "AAAA");
    second_entry(padded);
    // A PEM header line inside a CERTIFICATE block.
    std::string headers = good;
    headers.insert(headers.find('\n') + 1, "Proc-Type: 4,ENCRYPTED\n");
    second_entry(headers);
    // An empty block.
    second_entry("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
}

// The PEM decoder against OpenSSL's encoder: every residue of the length
// mod 3 (no, one and two '=' of padding), with the whitespace editors leave
// (CRLF line ends, trailing blanks), gives back the bytes encoded.
TEST(CertificateRead, PemBodyDecodesToTheBytesEncoded) {
    for (std::size_t n = 1; n <= 200; ++n) {
        Bytes bytes(n);
        for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<std::uint8_t>(i * 37 + n);
        std::string pem = pem_block("CERTIFICATE", bytes);
        std::string messy;
        for (char c : pem) messy += c == '\n' ? std::string(" \t\r\n") : std::string(1, c);
        for (const auto& text : {pem, messy}) {
            auto entries = split_bundle(view(text));
            ASSERT_EQ(entries.size(), 1u);
            EXPECT_FALSE(entries[0].error) << n;
            EXPECT_EQ(entries[0].der, bytes) << n << (text == pem ? "" : " (CRLF, blanks)");
        }
    }
}

TEST(CertificateRead, PrivateKeyBlockIsAnErrorWithoutItsBytes) {
    const auto& c = rsa_root();
    const std::string bundle = c.pem() + private_key_pem(c.key.get()) + c.pem();
    auto entries = read_bundle(view(bundle));
    ASSERT_EQ(entries.size(), 3u);
    expect_good(entries[0], c, 0);
    expect_entry_error(entries[1], 1);
    EXPECT_TRUE(entries[1].der.empty());  // key material is not handed back
    expect_good(entries[2], c, 2);

    // Nor when the key block lacks its END line or ends with another label.
    std::string key = private_key_pem(c.key.get());
    const std::string key_no_end = key.substr(0, key.find("-----END"));
    entries = read_bundle(view(c.pem() + key_no_end));
    ASSERT_EQ(entries.size(), 2u);
    expect_entry_error(entries[1], 1);
    EXPECT_TRUE(entries[1].der.empty());
    std::string key_wrong_end = key;
    key_wrong_end.replace(key_wrong_end.find("-----END PRIVATE KEY"), 20, "-----END CERTIFICATE");
    entries = read_bundle(view(c.pem() + key_wrong_end + c.pem()));
    ASSERT_EQ(entries.size(), 3u);
    expect_entry_error(entries[1], 1);
    EXPECT_TRUE(entries[1].der.empty());
    expect_good(entries[2], c, 2);
}

TEST(CertificateRead, OtherPemLabelsAreRejected) {
    const auto& c = rsa_root();
    for (const std::string label : {"TRUSTED CERTIFICATE", "X509 CRL", "CERTIFICATE REQUEST"}) {
        auto entries = read_bundle(view(c.pem() + pem_block(label, c.der)));
        ASSERT_EQ(entries.size(), 2u) << label;
        expect_entry_error(entries[1], 1);
    }
}

TEST(CertificateRead, TextOutsideBlocksIsAnEntry) {
    const auto& c = rsa_root();
    auto entries = read_bundle(view(c.pem() + "this is not a certificate\nnor this\n" + c.pem()));
    ASSERT_EQ(entries.size(), 3u);
    expect_good(entries[0], c, 0);
    expect_entry_error(entries[1], 1);
    EXPECT_TRUE(entries[1].der.empty());  // it might be key material
    expect_good(entries[2], c, 2);

    // Before the first block and after the last one, too.
    entries = read_bundle(view("Subject: CN=x\n" + c.pem() + "trailing words"));
    ASSERT_EQ(entries.size(), 3u);
    expect_entry_error(entries[0], 0);
    expect_good(entries[1], c, 1);
    expect_entry_error(entries[2], 2);
}

TEST(CertificateRead, UnterminatedAndMismatchedBlocks) {
    const auto& c = rsa_root();
    std::string pem = c.pem();
    const std::string no_end = pem.substr(0, pem.find("-----END"));
    auto entries = read_bundle(view(c.pem() + no_end + c.pem()));
    ASSERT_EQ(entries.size(), 3u);
    expect_entry_error(entries[1], 1);
    expect_good(entries[2], c, 2);

    entries = read_bundle(view(c.pem() + no_end));
    ASSERT_EQ(entries.size(), 2u);
    expect_entry_error(entries[1], 1);

    std::string mismatched = pem;
    mismatched.replace(mismatched.find("-----END CERTIFICATE"), 20, "-----END PRIVATE KEY");
    entries = read_bundle(view(c.pem() + mismatched));
    ASSERT_EQ(entries.size(), 2u);
    expect_entry_error(entries[1], 1);
}

TEST(CertificateRead, NoCertificateThrows) {
    const auto& c = rsa_root();
    for (const std::string& input :
         {""s, "\n \n"s, "# only a comment\n"s, "hello"s, "0"s, private_key_pem(c.key.get())}) {
        EXPECT_EQ(code_of_read(view(input)), ErrorCode::InvalidCertificate) << input;
        try {
            read_certificates(view(input));
            ADD_FAILURE() << "read_certificates accepted " << input;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::InvalidCertificate);
        }
    }
    try {
        parse_der_certificate({});
        ADD_FAILURE() << "parse_der_certificate accepted nothing";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidCertificate);
    }
    // PEM is not DER.
    try {
        parse_der_certificate(c.pem_bytes());
        ADD_FAILURE() << "parse_der_certificate accepted PEM";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidCertificate);
    }
}

TEST(CertificateRead, OverSizeThrowsNamingTheLimit) {
    const auto& c = rsa_root();
    ReadLimits limits;
    limits.max_bytes = c.der.size() - 1;
    std::string message;
    EXPECT_EQ(code_of_read(c.der, limits, &message), ErrorCode::InvalidArgument);
    EXPECT_NE(message.find("max_bytes"), std::string::npos) << message;
    limits.max_bytes = c.der.size();
    EXPECT_EQ(read_bundle(c.der, limits).size(), 1u);

    // The default limit: one byte over 1 MiB of PEM text.
    std::string big = c.pem();
    while (big.size() <= 1024 * 1024) big += c.pem();
    big.resize(1024 * 1024 + 1);
    EXPECT_EQ(code_of_read(view(big), {}, &message), ErrorCode::InvalidArgument);
    EXPECT_NE(message.find("max_bytes"), std::string::npos) << message;
    // And a DER of 1 MiB + 1.
    Bytes der(1024 * 1024 + 1, 0);
    der[0] = 0x30;
    der[1] = 0x83;
    try {
        parse_der_certificate(der);
        ADD_FAILURE() << "parse_der_certificate accepted over 1 MiB";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    }
}

TEST(CertificateRead, OverCountThrowsNamingTheLimitAndPosition) {
    const auto& c = rsa_root();
    ReadLimits limits;
    limits.max_certificates = 1;
    std::string message;
    EXPECT_EQ(code_of_read(view(c.pem() + c.pem()), limits, &message), ErrorCode::InvalidArgument);
    EXPECT_NE(message.find("max_certificates"), std::string::npos) << message;
    EXPECT_NE(message.find("certificate 2"), std::string::npos) << message;
    EXPECT_EQ(read_bundle(c.pem_bytes(), limits).size(), 1u);

    // The default limit: 1001 positions.
    std::string many;
    const std::string pem = c.pem();
    for (int i = 0; i < 1001; ++i) many += pem;
    limits = ReadLimits{};
    limits.max_bytes = many.size();
    EXPECT_EQ(code_of_read(view(many), limits, &message), ErrorCode::InvalidArgument);
    EXPECT_NE(message.find("certificate 1001"), std::string::npos) << message;
    many.resize(many.size() - pem.size());
    EXPECT_EQ(read_bundle(view(many), limits).size(), 1000u);
}

// ---- inspection -----------------------------------------------------------

TEST(CertificateInspect, Rsa2048LeafEveryField) {
    const auto& root = rsa_root();
    CertSpec spec = testing::signing_spec("rsa leaf");
    spec.organization = "anchord org";
    spec.serial = 0x1234;
    spec.not_before = sys_days{2024y / 1 / 2} + 3h + 4min + 5s;
    spec.not_after = sys_days{2034y / 6 / 7} + 8h + 9min + 10s;
    const auto leaf = make_signed(spec, root, KeyType::Rsa2048);
    const auto info = inspect(leaf.der);

    EXPECT_EQ(info.subject, "CN=rsa leaf,O=anchord org");
    EXPECT_EQ(info.issuer, "CN=anchord test root");
    EXPECT_EQ(info.serial_hex, "1234");
    EXPECT_EQ(info.fingerprint, Fingerprint{sha256(leaf.der)});
    EXPECT_EQ(info.tbs_sha256, sha256(tbs_by_hand(leaf.der)));
    ASSERT_TRUE(info.subject_key_id.has_value());
    EXPECT_EQ(*info.subject_key_id, skid_by_hand(leaf));
    ASSERT_TRUE(info.authority_key_id.has_value());
    EXPECT_EQ(*info.authority_key_id, skid_by_hand(root));
    EXPECT_FALSE(info.authority_issuer.has_value());
    EXPECT_FALSE(info.authority_serial_hex.has_value());

    EXPECT_EQ(info.public_key.algorithm, KeyAlgorithm::Rsa);
    EXPECT_EQ(info.public_key.bits, 2048);
    EXPECT_EQ(info.public_key.curve, "");
    EXPECT_EQ(info.public_key.oid, "1.2.840.113549.1.1.1");

    EXPECT_EQ(info.signature.name, "sha256WithRSAEncryption");
    EXPECT_EQ(info.signature.oid, "1.2.840.113549.1.1.11");
    EXPECT_EQ(info.signature.key_algorithm, KeyAlgorithm::Rsa);
    EXPECT_EQ(info.signature.hash, HashAlgorithm::Sha256);

    EXPECT_TRUE(info.basic_constraints_present);
    EXPECT_FALSE(info.is_ca);
    EXPECT_FALSE(info.path_len.has_value());
    EXPECT_EQ(info.key_usage, std::optional<std::uint16_t>(key_usage::digital_signature));
    EXPECT_EQ(info.extended_key_usage, std::vector<std::string>{"codeSigning"});
    EXPECT_EQ(info.not_before, *spec.not_before);
    EXPECT_EQ(info.not_after, *spec.not_after);
    EXPECT_FALSE(info.self_issued);
    EXPECT_FALSE(info.self_signed);
    EXPECT_EQ(info.kernel_description, "anchord org: rsa leaf: " + to_hex(skid_by_hand(leaf)));
}

struct KeyCase {
    KeyType type;
    KeyAlgorithm algorithm;
    int bits;
    std::string curve;
    std::string key_oid;
    std::string sig_name;
    std::string sig_oid;
    HashAlgorithm hash;
};

class CertificateKeyTypes : public ::testing::TestWithParam<KeyCase> {};

TEST_P(CertificateKeyTypes, SelfSignedKeyAndSignature) {
    const KeyCase& k = GetParam();
    const auto cert = make_self_signed(testing::ca_spec("key type test"), k.type);
    const auto info = inspect(cert.der);
    EXPECT_EQ(info.public_key.algorithm, k.algorithm);
    EXPECT_EQ(info.public_key.bits, k.bits);
    EXPECT_EQ(info.public_key.curve, k.curve);
    EXPECT_EQ(info.public_key.oid, k.key_oid);
    EXPECT_EQ(info.signature.name, k.sig_name);
    EXPECT_EQ(info.signature.oid, k.sig_oid);
    EXPECT_EQ(info.signature.key_algorithm, k.algorithm);
    EXPECT_EQ(info.signature.hash, k.hash);
    EXPECT_TRUE(info.self_issued);
    EXPECT_TRUE(info.self_signed);
    EXPECT_EQ(info.tbs_sha256, sha256(tbs_by_hand(cert.der)));
    EXPECT_EQ(info.kernel_description, "key type test: " + to_hex(skid_by_hand(cert)));
}

INSTANTIATE_TEST_SUITE_P(
    All, CertificateKeyTypes,
    ::testing::Values(KeyCase{KeyType::Rsa2048, KeyAlgorithm::Rsa, 2048, "", "1.2.840.113549.1.1.1",
                              "sha256WithRSAEncryption", "1.2.840.113549.1.1.11",
                              HashAlgorithm::Sha256},
                      KeyCase{KeyType::P256, KeyAlgorithm::Ecdsa, 256, "P-256", "1.2.840.10045.2.1",
                              "ecdsa-with-SHA256", "1.2.840.10045.4.3.2", HashAlgorithm::Sha256},
                      KeyCase{KeyType::P384, KeyAlgorithm::Ecdsa, 384, "P-384", "1.2.840.10045.2.1",
                              "ecdsa-with-SHA256", "1.2.840.10045.4.3.2", HashAlgorithm::Sha256},
                      KeyCase{KeyType::P521, KeyAlgorithm::Ecdsa, 521, "P-521", "1.2.840.10045.2.1",
                              "ecdsa-with-SHA256", "1.2.840.10045.4.3.2", HashAlgorithm::Sha256},
                      KeyCase{KeyType::Secp256k1, KeyAlgorithm::Ecdsa, 256, "secp256k1",
                              "1.2.840.10045.2.1", "ecdsa-with-SHA256", "1.2.840.10045.4.3.2",
                              HashAlgorithm::Sha256},
                      // A fixed 256, whichever of OpenSSL's decoders (253 or 256) ran.
                      KeyCase{KeyType::Ed25519, KeyAlgorithm::Ed25519, 256, "", "1.3.101.112",
                              "ED25519", "1.3.101.112", HashAlgorithm::None},
                      KeyCase{KeyType::Dsa2048, KeyAlgorithm::Dsa, 2048, "", "1.2.840.10040.4.1",
                              "dsa_with_SHA256", "2.16.840.1.101.3.4.3.2", HashAlgorithm::Sha256}),
    [](const auto& info) {
        std::string n = to_string(info.param.algorithm).data() + std::to_string(info.param.bits);
        if (!info.param.curve.empty()) n += "_" + info.param.curve;
        for (auto& c : n) {
            if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
        }
        return n;
    });

TEST(CertificateInspect, SignatureHashes) {
    struct Case {
        std::string digest;
        std::string name;
        std::string oid;
        HashAlgorithm hash;
    };
    for (const auto& c : std::vector<Case>{
             {"SHA1", "sha1WithRSAEncryption", "1.2.840.113549.1.1.5", HashAlgorithm::Sha1},
             {"SHA384", "sha384WithRSAEncryption", "1.2.840.113549.1.1.12", HashAlgorithm::Sha384},
             {"SHA512", "sha512WithRSAEncryption", "1.2.840.113549.1.1.13", HashAlgorithm::Sha512},
             {"SHA3-256", "RSA-SHA3-256", "2.16.840.1.101.3.4.3.14", HashAlgorithm::Sha3_256},
             {"SHA3-512", "RSA-SHA3-512", "2.16.840.1.101.3.4.3.16", HashAlgorithm::Sha3_512}}) {
        CertSpec spec = testing::signing_spec("hash " + c.digest);
        spec.digest = c.digest;
        const auto cert = make_signed(spec, rsa_root());
        const auto info = inspect(cert.der);
        EXPECT_EQ(info.signature.name, c.name) << c.digest;
        EXPECT_EQ(info.signature.oid, c.oid) << c.digest;
        EXPECT_EQ(info.signature.key_algorithm, KeyAlgorithm::Rsa) << c.digest;
        EXPECT_EQ(info.signature.hash, c.hash) << c.digest;
    }
    // ECDSA with SHA3-384, by a P-384 issuer.
    const auto ec_root = make_self_signed(testing::ca_spec("ec root"), KeyType::P384);
    CertSpec spec = testing::signing_spec("ecdsa sha3");
    spec.digest = "SHA3-384";
    const auto info = inspect(make_signed(spec, ec_root, KeyType::P256).der);
    EXPECT_EQ(info.signature.oid, "2.16.840.1.101.3.4.3.11");
    EXPECT_EQ(info.signature.key_algorithm, KeyAlgorithm::Ecdsa);
    EXPECT_EQ(info.signature.hash, HashAlgorithm::Sha3_384);
    EXPECT_EQ(info.public_key.curve, "P-256");
}

TEST(CertificateInspect, RsaPssSignatureTakesTheHashFromItsParameters) {
    ossl::X509Ptr x(X509_dup(make_signed(testing::signing_spec("pss"), rsa_root()).x509.get()));
    ASSERT_TRUE(x);
    ossl::EvpMdCtxPtr md(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    ASSERT_EQ(EVP_DigestSignInit(md.get(), &pctx, EVP_sha384(), nullptr, rsa_root().key.get()), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
    ASSERT_GT(X509_sign_ctx(x.get(), md.get()), 0);
    const auto info = inspect(to_der(x.get()));
    EXPECT_EQ(info.signature.name, "rsassaPss");
    EXPECT_EQ(info.signature.oid, "1.2.840.113549.1.1.10");
    EXPECT_EQ(info.signature.key_algorithm, KeyAlgorithm::RsaPss);
    EXPECT_EQ(info.signature.hash, HashAlgorithm::Sha384);
    EXPECT_EQ(info.public_key.algorithm, KeyAlgorithm::Rsa);
}

TEST(CertificateInspect, RsaPssKey) {
    ossl::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA-PSS", nullptr));
    EVP_PKEY* raw = nullptr;
    ASSERT_TRUE(ctx && EVP_PKEY_keygen_init(ctx.get()) == 1 &&
                EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048) == 1 &&
                EVP_PKEY_keygen(ctx.get(), &raw) == 1);
    std::shared_ptr<EVP_PKEY> key(raw, EVP_PKEY_free);
    ASSERT_TRUE(key);
    const auto cert = make_self_signed(testing::ca_spec("pss key"), KeyType::Rsa2048, key);
    const auto info = inspect(cert.der);
    EXPECT_EQ(info.public_key.algorithm, KeyAlgorithm::RsaPss);
    EXPECT_EQ(info.public_key.oid, "1.2.840.113549.1.1.10");
    EXPECT_EQ(info.public_key.bits, 2048);
    EXPECT_EQ(info.signature.key_algorithm, KeyAlgorithm::RsaPss);
    EXPECT_EQ(info.signature.hash, HashAlgorithm::Sha256);
    EXPECT_TRUE(info.self_signed);
}

// An ML-DSA-65 subject key, which OpenSSL 3.0 can neither make nor load:
// a test PKI certificate's key swapped for 1952 random bytes under the
// ML-DSA-65 OID, re-signed by an RSA issuer.
TestCert ml_dsa_65_cert(const TestCert& issuer, const CertSpec& spec) {
    const auto base = make_signed(spec, issuer);
    ossl::X509Ptr x(X509_dup(base.x509.get()));
    auto* key = static_cast<unsigned char*>(OPENSSL_malloc(1952));
    if (!x || key == nullptr || RAND_bytes(key, 1952) != 1) throw std::runtime_error("ml-dsa key");
    ASN1_OBJECT* oid = OBJ_txt2obj("2.16.840.1.101.3.4.3.18", 1);
    if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x.get()), oid, V_ASN1_UNDEF, nullptr, key,
                               1952) != 1)
        throw std::runtime_error("X509_PUBKEY_set0_param");
    if (X509_sign(x.get(), issuer.key.get(), EVP_sha256()) <= 0)
        throw std::runtime_error("X509_sign");
    TestCert out;
    out.der = to_der(x.get());
    out.x509 = std::shared_ptr<X509>(x.release(), X509_free);
    return out;
}

TEST(CertificateInspect, MlDsa65KeyIsRecognisedByOid) {
    const auto cert = ml_dsa_65_cert(rsa_root(), testing::signing_spec("ml-dsa leaf"));
    const auto info = inspect(cert.der);
    EXPECT_EQ(info.public_key.algorithm, KeyAlgorithm::MlDsa65);
    EXPECT_EQ(info.public_key.oid, "2.16.840.1.101.3.4.3.18");
    EXPECT_EQ(info.public_key.bits, 0);
    EXPECT_EQ(info.signature.key_algorithm, KeyAlgorithm::Rsa);
    EXPECT_FALSE(info.self_signed);
    EXPECT_EQ(info.tbs_sha256, sha256(tbs_by_hand(cert.der)));

    // Self-issued, with a key that cannot be loaded: not self-signed, no crash.
    const auto same_name = ml_dsa_65_cert(rsa_root(), testing::ca_spec("anchord test root"));
    const auto si = inspect(same_name.der);
    EXPECT_TRUE(si.self_issued);
    EXPECT_FALSE(si.self_signed);
    EXPECT_EQ(si.public_key.algorithm, KeyAlgorithm::MlDsa65);
}

TEST(CertificateInspect, MlDsaSignatureOids) {
    struct Case {
        std::uint8_t last;
        KeyAlgorithm algorithm;
        std::string name;
    };
    for (const auto& c : std::vector<Case>{{0x11, KeyAlgorithm::MlDsa44, "ML-DSA-44"},
                                           {0x12, KeyAlgorithm::MlDsa65, "ML-DSA-65"},
                                           {0x13, KeyAlgorithm::MlDsa87, "ML-DSA-87"}}) {
        // Both signature algorithm fields set to the ML-DSA OID, no parameters.
        Node cert = parse_tree(rsa_root().der);
        const Node alg{
            0x30, {}, {Node{0x06, {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, c.last}, {}}}};
        ASSERT_EQ(cert.kids[0].kids[2].tag, 0x30);
        cert.kids[0].kids[2] = alg;
        cert.kids[1] = alg;
        const auto info = inspect(encode(cert));
        EXPECT_EQ(info.signature.key_algorithm, c.algorithm);
        EXPECT_EQ(info.signature.hash, HashAlgorithm::None);
        EXPECT_EQ(info.signature.name, c.name);
        EXPECT_EQ(info.signature.oid, "2.16.840.1.101.3.4.3." + std::to_string(c.last));
        EXPECT_TRUE(info.self_issued);
        EXPECT_FALSE(info.self_signed);
    }
}

TEST(CertificateInspect, CaWithPathLen) {
    CertSpec spec = testing::ca_spec("path ca");
    spec.path_len = 2;
    const auto info = inspect(make_signed(spec, rsa_root()).der);
    EXPECT_TRUE(info.basic_constraints_present);
    EXPECT_TRUE(info.is_ca);
    EXPECT_EQ(info.path_len, std::optional<int>(2));
    EXPECT_EQ(info.key_usage,
              std::optional<std::uint16_t>(key_usage::key_cert_sign | key_usage::crl_sign));
    EXPECT_TRUE(info.extended_key_usage.empty());

    spec.path_len = 0;
    EXPECT_EQ(inspect(make_signed(spec, rsa_root()).der).path_len, std::optional<int>(0));
    spec.path_len.reset();
    EXPECT_FALSE(inspect(make_signed(spec, rsa_root()).der).path_len.has_value());
}

TEST(CertificateInspect, AbsentExtensions) {
    CertSpec spec;
    spec.common_name = "bare";
    spec.basic_constraints = false;
    spec.subject_key_id = false;
    spec.authority_key_id = false;
    const auto cert = make_signed(spec, rsa_root());
    const auto info = inspect(cert.der);
    EXPECT_FALSE(info.basic_constraints_present);
    EXPECT_FALSE(info.is_ca);
    EXPECT_FALSE(info.path_len.has_value());
    EXPECT_FALSE(info.key_usage.has_value());
    EXPECT_TRUE(info.extended_key_usage.empty());
    EXPECT_FALSE(info.subject_key_id.has_value());
    EXPECT_FALSE(info.authority_key_id.has_value());
}

TEST(CertificateInspect, AllKeyUsageBits) {
    CertSpec spec = testing::signing_spec("all usages");
    spec.key_usage = 0x1ff;
    EXPECT_EQ(inspect(make_signed(spec, rsa_root()).der).key_usage,
              std::optional<std::uint16_t>(0x1ff));
    spec.key_usage = key_usage::key_agreement | key_usage::decipher_only;
    EXPECT_EQ(inspect(make_signed(spec, rsa_root()).der).key_usage,
              std::optional<std::uint16_t>(key_usage::key_agreement | key_usage::decipher_only));
}

TEST(CertificateInspect, ExtendedKeyUsageNamesAndOids) {
    CertSpec spec = testing::signing_spec("eku");
    spec.extended_key_usage = {"codeSigning", "emailProtection", "1.2.3.4.5"};
    EXPECT_EQ(inspect(make_signed(spec, rsa_root()).der).extended_key_usage,
              (std::vector<std::string>{"codeSigning", "emailProtection", "1.2.3.4.5"}));
}

TEST(CertificateInspect, ValidityBefore1970AndAfter2050) {
    CertSpec spec = testing::signing_spec("old and long");
    spec.not_before = sys_days{1960y / 1 / 1} + 1s;
    spec.not_after = sys_days{2060y / 6 / 1} + 12h + 34min + 56s;
    const auto info = inspect(make_signed(spec, rsa_root()).der);
    EXPECT_EQ(info.not_before, *spec.not_before);
    EXPECT_EQ(info.not_after, *spec.not_after);
    EXPECT_LT(info.not_before.time_since_epoch().count(), 0);

    // Around the 2038 and 2049/2050 (UTCTime/GeneralizedTime) boundaries.
    spec.not_before = sys_days{2038y / 1 / 19} + 3h + 14min + 8s;
    spec.not_after = sys_days{2050y / 1 / 1};
    const auto edge = inspect(make_signed(spec, rsa_root()).der);
    EXPECT_EQ(edge.not_before, *spec.not_before);
    EXPECT_EQ(edge.not_after, *spec.not_after);
}

TEST(CertificateInspect, SelfSignedSelfIssuedAndNeither) {
    const auto root = inspect(rsa_root().der);
    EXPECT_TRUE(root.self_issued);
    EXPECT_TRUE(root.self_signed);
    EXPECT_EQ(root.subject, root.issuer);

    // Same name as its issuer, another key: self-issued, not self-signed.
    const auto renamed = make_signed(testing::ca_spec("anchord test root"), rsa_root());
    const auto info = inspect(renamed.der);
    EXPECT_TRUE(info.self_issued);
    EXPECT_FALSE(info.self_signed);

    // A self-signed certificate whose signature was tampered with.
    const auto tampered = inspect(testing::tamper_signature(rsa_root().der));
    EXPECT_TRUE(tampered.self_issued);
    EXPECT_FALSE(tampered.self_signed);
}

TEST(CertificateInspect, SerialKeepsTheDerLeadingZero) {
    CertSpec spec = testing::signing_spec("serial");
    spec.serial = 0x8000000000000001ull;
    spec.subject_key_id = false;
    const auto cert = make_signed(spec, rsa_root());
    const auto info = inspect(cert.der);
    EXPECT_EQ(info.serial_hex, "008000000000000001");
    // Without a SKID the kernel names the key by the raw serial.
    EXPECT_EQ(info.kernel_description, "serial: 008000000000000001");
    EXPECT_EQ(info.tbs_sha256, sha256(tbs_by_hand(cert.der)));

    spec.serial = 1;
    EXPECT_EQ(inspect(make_signed(spec, rsa_root()).der).serial_hex, "01");
}

TEST(CertificateInspect, AuthorityKeyIdWithIssuerAndSerial) {
    CertSpec spec = testing::signing_spec("akid");
    spec.authority_key_id = false;
    const auto base = make_signed(spec, rsa_root());
    ossl::X509Ptr x(X509_dup(base.x509.get()));
    ASSERT_TRUE(x);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, rsa_root().x509.get(), x.get(), nullptr, nullptr, 0);
    ossl::X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier,
                                                   "keyid:always,issuer:always"));
    ASSERT_TRUE(ext);
    ASSERT_EQ(X509_add_ext(x.get(), ext.get(), -1), 1);
    ASSERT_GT(X509_sign(x.get(), rsa_root().key.get(), EVP_sha256()), 0);
    const auto info = inspect(to_der(x.get()));
    const auto root = inspect(rsa_root().der);
    EXPECT_EQ(info.authority_key_id, root.subject_key_id);
    EXPECT_EQ(info.authority_issuer, std::optional<std::string>(root.issuer));
    EXPECT_EQ(info.authority_serial_hex, std::optional<std::string>(root.serial_hex));
}

TEST(CertificateInspect, NamesAreOneRfc2253Line) {
    NameBuilder n;
    n.add("C", "DE", V_ASN1_PRINTABLESTRING).add("O", "Comma, Inc.").add("CN", "caf\xc3\xa9\nline");
    const auto cert = with_name(rsa_root(), n.name.get());
    const auto info = inspect(cert.der);
    EXPECT_EQ(info.subject.find('\n'), std::string::npos) << info.subject;
    EXPECT_EQ(info.subject, "CN=caf\\C3\\A9\\0Aline,O=Comma\\, Inc.,C=DE");
    EXPECT_EQ(info.issuer, info.subject);
}

// ---- the kernel's key description --------------------------------------

struct KernelCase {
    std::string label;
    TestCert cert;
    std::string expected;  // our expectation from reading the kernel's code
};

std::vector<KernelCase> kernel_cases() {
    const TestCert base = make_self_signed(testing::ca_spec("base"), KeyType::Rsa2048);
    const std::string skid = to_hex(skid_by_hand(base));
    std::vector<KernelCase> cases;
    auto add = [&](std::string label, NameBuilder& n, std::string expected_name,
                   bool keep_skid = true) {
        TestCert c = with_name(base, n.name.get(), keep_skid);
        std::string id = skid;
        if (!keep_skid) id = parse_der_certificate(c.der).info().serial_hex;
        cases.push_back({std::move(label), std::move(c), expected_name + ": " + id});
    };
    {
        NameBuilder n;
        n.add("CN", "Only A Common Name");
        add("CN only", n, "Only A Common Name");
    }
    {
        NameBuilder n;
        n.add("O", "Example Org").add("CN", "Signing Key");
        add("O and CN", n, "Example Org: Signing Key");
    }
    {
        NameBuilder n;
        n.add("O", "Example").add("CN", "Example Signing Key");
        add("CN starts with O", n, "Example Signing Key");
    }
    {
        NameBuilder n;
        n.add("O", "Example Corporation").add("CN", "Example Co signing");
        add("CN shares 7 bytes with O", n, "Example Co signing");
    }
    {
        NameBuilder n;
        n.add("O", "Exampl").add("CN", "Exampl");
        add("CN equals short O", n, "Exampl");
    }
    {
        NameBuilder n;
        n.add("O", "Org Alone").add("OU", "unit");
        add("O only", n, "Org Alone");
    }
    {
        NameBuilder n;
        n.add("emailAddress", "keys@example.org", V_ASN1_IA5STRING)
            .add("C", "FR", V_ASN1_PRINTABLESTRING);
        add("email only", n, "keys@example.org");
    }
    {
        NameBuilder n;
        n.add("CN", "first").add("O", "Org").add("CN", "second");
        add("last CN wins", n, "Org: second");
    }
    {
        NameBuilder n;
        n.add("C", "GB", V_ASN1_PRINTABLESTRING);
        add("no CN, O or email", n, "");
    }
    {
        NameBuilder n;
        n.add("CN", std::string(300, 'x'));
        add("300-byte CN (u8 size)", n, std::string(300 % 256, 'x'));
    }
    {
        NameBuilder n;
        n.add("CN", "before\0after"s);
        add("NUL inside the CN", n, "before");
    }
    {
        NameBuilder n;
        n.add("CN", "\0K\0e\0y"s, V_ASN1_BMPSTRING);
        add("BMPString CN", n, "");
    }
    {
        NameBuilder n;
        n.add("O", "No Key Id Org").add("CN", "no skid");
        add("no SKID: raw serial", n, "No Key Id Org: no skid", false);
    }
    return cases;
}

TEST(CertificateKernelDescription, MatchesTheKernelsRules) {
    for (const auto& c : kernel_cases()) {
        EXPECT_EQ(parse_der_certificate(c.cert.der).info().kernel_description, c.expected)
            << c.label;
    }
}

// The description keyctl shows: "asymmetric;uid;gid;perm;<description>".
std::string kernel_describe(const Bytes& der, int& err) {
    const key_serial_t id =
        add_key("asymmetric", "", der.data(), der.size(), KEY_SPEC_SESSION_KEYRING);
    if (id < 0) {
        err = errno;
        return {};
    }
    char* raw = nullptr;
    const int n = keyctl_describe_alloc(id, &raw);
    err = n < 0 ? errno : 0;
    std::string text = n < 0 ? std::string() : std::string(raw);
    std::free(raw);
    keyctl_unlink(id, KEY_SPEC_SESSION_KEYRING);
    std::size_t pos = 0;
    for (int i = 0; i < 4 && pos != std::string::npos; ++i) {
        pos = text.find(';', pos);
        if (pos != std::string::npos) ++pos;
    }
    return pos == std::string::npos ? std::string() : text.substr(pos);
}

TEST(CertificateKernelDescription, MatchesTheRealKernel) {
    // A private session keyring, so nothing leaks into the caller's.
    ASSERT_GE(keyctl_join_session_keyring(nullptr), 0) << std::strerror(errno);
    auto cases = kernel_cases();
    // And the shapes the test PKI makes: O and CN, CN only, no SKID.
    CertSpec spec = testing::signing_spec("pki leaf");
    spec.organization = "anchord";
    cases.push_back({"test PKI O+CN", make_signed(spec, rsa_root()), ""});
    cases.push_back({"test PKI root", rsa_root(), ""});
    spec.subject_key_id = false;
    spec.serial = 0xff00000000000001ull;
    cases.push_back({"test PKI no SKID", make_signed(spec, rsa_root()), ""});
    for (const auto& c : cases) {
        int err = 0;
        const std::string kernel = kernel_describe(c.cert.der, err);
        ASSERT_EQ(err, 0) << c.label << ": " << std::strerror(err);
        EXPECT_EQ(parse_der_certificate(c.cert.der).info().kernel_description, kernel) << c.label;
    }
}

}  // namespace
}  // namespace anchord
