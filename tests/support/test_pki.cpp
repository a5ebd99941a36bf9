#include "test_pki.hpp"

#include <openssl/dsa.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <cerrno>
#include <stdexcept>

#include "anchord/certificate.hpp"

namespace anchord::testing {
namespace {

void require(bool ok, const char* what) {
    if (!ok)
        throw std::runtime_error(std::string("test PKI: ") + what + ": " + ossl::drain_errors());
}

std::shared_ptr<EVP_PKEY> share(EVP_PKEY* p) {
    return {p, EVP_PKEY_free};
}

void set_time(ASN1_TIME* t, std::chrono::sys_seconds when) {
    require(ASN1_TIME_set(t, static_cast<time_t>(when.time_since_epoch().count())) != nullptr,
            "ASN1_TIME_set");
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    ossl::X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    require(ext != nullptr, "X509V3_EXT_conf_nid");
    require(X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext");
}

std::string key_usage_value(std::uint16_t bits) {
    std::string out = "critical";
    for (std::uint16_t bit = 1; bit <= key_usage::decipher_only && bit != 0; bit <<= 1) {
        if (bits & bit) out += "," + std::string(key_usage_name(bit));
    }
    return out;
}

TestCert build(const CertSpec& spec, KeyType type, std::shared_ptr<EVP_PKEY> key,
               const TestCert* issuer) {
    if (!key) key = generate_key(type);
    ossl::X509Ptr cert(X509_new());
    require(cert != nullptr, "X509_new");
    require(X509_set_version(cert.get(), 2) == 1, "X509_set_version");

    std::uint64_t serial = 0;
    if (spec.serial) {
        serial = *spec.serial;
    } else {
        require(RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial) == 1,
                "RAND_bytes");
        serial = (serial >> 2) | 1;  // positive and non-zero
    }
    require(ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial) == 1, "serial");

    auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    set_time(X509_getm_notBefore(cert.get()),
             spec.not_before.value_or(now - std::chrono::hours(1)));
    set_time(X509_getm_notAfter(cert.get()),
             spec.not_after.value_or(now + std::chrono::hours(24 * 365)));

    X509_NAME* name = X509_get_subject_name(cert.get());
    if (!spec.organization.empty()) {
        require(
            X509_NAME_add_entry_by_txt(
                name, "O", MBSTRING_UTF8,
                reinterpret_cast<const unsigned char*>(spec.organization.c_str()), -1, -1, 0) == 1,
            "O");
    }
    require(X509_NAME_add_entry_by_txt(
                name, "CN", MBSTRING_UTF8,
                reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0) == 1,
            "CN");
    X509* issuer_x509 = issuer ? issuer->x509.get() : cert.get();
    require(X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_x509)) == 1, "issuer");
    require(X509_set_pubkey(cert.get(), key.get()) == 1, "X509_set_pubkey");

    if (spec.basic_constraints) {
        std::string bc = spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE";
        if (spec.ca && spec.path_len) bc += ",pathlen:" + std::to_string(*spec.path_len);
        add_ext(cert.get(), issuer_x509, NID_basic_constraints, bc);
    }
    if (spec.key_usage)
        add_ext(cert.get(), issuer_x509, NID_key_usage, key_usage_value(*spec.key_usage));
    if (!spec.extended_key_usage.empty()) {
        std::string eku;
        for (const auto& e : spec.extended_key_usage) eku += (eku.empty() ? "" : ",") + e;
        add_ext(cert.get(), issuer_x509, NID_ext_key_usage, eku);
    }
    if (spec.subject_key_id) add_ext(cert.get(), issuer_x509, NID_subject_key_identifier, "hash");
    if (spec.authority_key_id_override) {
        ossl::AuthorityKeyIdPtr akid(AUTHORITY_KEYID_new());
        akid->keyid = ASN1_OCTET_STRING_new();
        require(
            ASN1_OCTET_STRING_set(akid->keyid, spec.authority_key_id_override->data(),
                                  static_cast<int>(spec.authority_key_id_override->size())) == 1,
            "akid");
        require(X509_add1_ext_i2d(cert.get(), NID_authority_key_identifier, akid.get(), 0, 0) == 1,
                "akid ext");
    } else if (spec.authority_key_id) {
        // A self-signed certificate names its own key; "keyid:always" needs the
        // issuer's SKID, which a self-signed one only has once added above.
        add_ext(cert.get(), issuer_x509, NID_authority_key_identifier, "keyid:always");
    }

    EVP_PKEY* signing_key = issuer ? issuer->key.get() : key.get();
    const EVP_MD* md = nullptr;
    int base = EVP_PKEY_get_base_id(signing_key);
    if (base != EVP_PKEY_ED25519 && base != EVP_PKEY_ED448) {
        md = EVP_get_digestbyname(spec.digest.c_str());
        require(md != nullptr, "unknown digest");
    }
    require(X509_sign(cert.get(), signing_key, md) > 0, "X509_sign");

    TestCert out;
    out.key = std::move(key);
    out.der = to_der(cert.get());
    out.x509 = std::shared_ptr<X509>(cert.release(), X509_free);
    return out;
}

}  // namespace

Bytes to_der(X509* x) {
    int len = i2d_X509(x, nullptr);
    require(len > 0, "i2d_X509");
    Bytes der(static_cast<std::size_t>(len));
    unsigned char* p = der.data();
    i2d_X509(x, &p);
    return der;
}

CertSpec ca_spec(std::string common_name) {
    CertSpec s;
    s.common_name = std::move(common_name);
    s.ca = true;
    s.key_usage = key_usage::key_cert_sign | key_usage::crl_sign;
    return s;
}

CertSpec signing_spec(std::string common_name) {
    CertSpec s;
    s.common_name = std::move(common_name);
    s.ca = false;
    s.key_usage = key_usage::digital_signature;
    s.extended_key_usage = {"codeSigning"};
    return s;
}

std::string TestCert::pem() const {
    ossl::BioPtr bio(BIO_new(BIO_s_mem()));
    require(bio && PEM_write_bio_X509(bio.get(), x509.get()) == 1, "PEM_write_bio_X509");
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

Bytes TestCert::pem_bytes() const {
    auto text = pem();
    return Bytes(text.begin(), text.end());
}

std::shared_ptr<EVP_PKEY> generate_key(KeyType type) {
    EVP_PKEY* key = nullptr;
    switch (type) {
        case KeyType::Rsa1024:
            key = EVP_RSA_gen(1024);
            break;
        case KeyType::Rsa2048:
            key = EVP_RSA_gen(2048);
            break;
        case KeyType::Rsa3072:
            key = EVP_RSA_gen(3072);
            break;
        case KeyType::Rsa4096:
            key = EVP_RSA_gen(4096);
            break;
        case KeyType::P256:
            key = EVP_EC_gen("P-256");
            break;
        case KeyType::P384:
            key = EVP_EC_gen("P-384");
            break;
        case KeyType::P521:
            key = EVP_EC_gen("P-521");
            break;
        case KeyType::Secp256k1:
            key = EVP_EC_gen("secp256k1");
            break;
        case KeyType::Ed25519:
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
            break;
        case KeyType::Dsa2048: {
            ossl::EvpPkeyCtxPtr pctx(EVP_PKEY_CTX_new_from_name(nullptr, "DSA", nullptr));
            EVP_PKEY* params = nullptr;
            require(pctx && EVP_PKEY_paramgen_init(pctx.get()) == 1 &&
                        EVP_PKEY_CTX_set_dsa_paramgen_bits(pctx.get(), 2048) == 1 &&
                        EVP_PKEY_paramgen(pctx.get(), &params) == 1,
                    "DSA params");
            auto p = share(params);
            ossl::EvpPkeyCtxPtr kctx(EVP_PKEY_CTX_new_from_pkey(nullptr, p.get(), nullptr));
            require(kctx && EVP_PKEY_keygen_init(kctx.get()) == 1 &&
                        EVP_PKEY_keygen(kctx.get(), &key) == 1,
                    "DSA keygen");
            break;
        }
    }
    require(key != nullptr, "key generation");
    return share(key);
}

TestCert make_self_signed(const CertSpec& spec, KeyType type, std::shared_ptr<EVP_PKEY> key) {
    return build(spec, type, std::move(key), nullptr);
}

TestCert make_signed(const CertSpec& spec, const TestCert& issuer, KeyType type,
                     std::shared_ptr<EVP_PKEY> key) {
    return build(spec, type, std::move(key), &issuer);
}

Bytes tamper_signature(const Bytes& der) {
    // The signature BIT STRING is the last element of the outer SEQUENCE, so
    // its last byte is the last byte of the DER.
    Bytes out = der;
    out.back() ^= 0x01;
    return out;
}

bool is_tampered_signature_errno(int err) {
    return err == EINVAL || err == EBADMSG;
}

Bytes tamper_tbs(const Bytes& der) {
    // Flip a bit of the subject CN's text: the first occurrence of the CN
    // OID (2.5.4.3) after the issuer is the subject's; we flip the last
    // character of the last CN value, which is in the subject.
    Bytes out = der;
    static constexpr std::uint8_t kCnOid[] = {0x06, 0x03, 0x55, 0x04, 0x03};
    std::size_t last = 0;
    for (std::size_t i = 0; i + sizeof kCnOid < out.size(); ++i) {
        if (std::equal(std::begin(kCnOid), std::end(kCnOid), out.begin() + static_cast<long>(i)))
            last = i;
    }
    if (last == 0) throw std::runtime_error("test PKI: no CN to tamper with");
    std::size_t len_pos = last + sizeof kCnOid + 1;  // string tag, then length
    std::size_t value_end = len_pos + 1 + out[len_pos];
    out[value_end - 1] ^= 0x01;
    return out;
}

Chain make_chain(KeyType leaf_type) {
    Chain c;
    c.root = make_self_signed(ca_spec("anchord test root"));
    c.intermediate = make_signed(ca_spec("anchord test intermediate"), c.root);
    c.leaf = make_signed(signing_spec("anchord test signing key"), c.intermediate, leaf_type);
    return c;
}

}  // namespace anchord::testing
