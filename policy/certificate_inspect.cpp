// Turns a decoded certificate into CertificateInfo: plain values that the
// policy, the daemon and the client can use without touching OpenSSL.
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <ctime>
#include <optional>
#include <string_view>

#include "anchord/openssl.hpp"
#include "certificate_detail.hpp"

namespace anchord::detail {
namespace {

// ML-DSA (FIPS 204) SubjectPublicKeyInfo and signature OIDs; OpenSSL 3.0
// predates them, so they are recognised by text.
// The names are those newer OpenSSL releases give them.
struct MlDsaOid {
    std::string_view oid;
    KeyAlgorithm algorithm;
    std::string_view name;
};
constexpr std::array<MlDsaOid, 3> kMlDsaOids{{
    {"2.16.840.1.101.3.4.3.17", KeyAlgorithm::MlDsa44, "ML-DSA-44"},
    {"2.16.840.1.101.3.4.3.18", KeyAlgorithm::MlDsa65, "ML-DSA-65"},
    {"2.16.840.1.101.3.4.3.19", KeyAlgorithm::MlDsa87, "ML-DSA-87"},
}};

const MlDsaOid* ml_dsa_by_oid(std::string_view oid) {
    for (const auto& m : kMlDsaOids) {
        if (m.oid == oid) return &m;
    }
    return nullptr;
}

std::string dotted(const ASN1_OBJECT* obj) {
    if (obj == nullptr) return {};
    const int len = OBJ_obj2txt(nullptr, 0, obj, 1);
    if (len <= 0) return {};
    std::string out(static_cast<std::size_t>(len) + 1, '\0');
    OBJ_obj2txt(out.data(), len + 1, obj, 1);
    out.resize(static_cast<std::size_t>(len));
    return out;
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

std::string name_line(const X509_NAME* name, const char* which) {
    ossl::BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0)
        throw EntryProblem(std::string("the ") + which +
                           " name cannot be printed: " + ossl::drain_errors());
    return bio_text(bio.get());
}

// The INTEGER's content octets as DER has them (a leading 0x00 stays when
// DER needs it), in lowercase hex: what the kernel and `openssl x509` show.
std::string integer_hex(const ASN1_INTEGER* v, const char* which) {
    const int len = i2d_ASN1_INTEGER(v, nullptr);
    if (len <= 0) throw EntryProblem(std::string("the ") + which + " cannot be encoded");
    Bytes der(static_cast<std::size_t>(len));
    unsigned char* p = der.data();
    i2d_ASN1_INTEGER(v, &p);
    const Tlv t = read_tlv(der, 0, der.size());
    return to_hex(t.content(der));
}

std::chrono::sys_seconds to_sys_seconds(const ASN1_TIME* t, const char* which) {
    std::tm tm{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1)
        throw EntryProblem(std::string(which) + " is not a valid time");
    using namespace std::chrono;
    // Through civil days, not timegm/time_t, so years before 1970 and after
    // 2038 come out right everywhere.
    const year_month_day ymd{year{tm.tm_year + 1900}, month{static_cast<unsigned>(tm.tm_mon + 1)},
                             day{static_cast<unsigned>(tm.tm_mday)}};
    if (!ymd.ok()) throw EntryProblem(std::string(which) + " is not a valid date");
    return sys_days{ymd} + hours{tm.tm_hour} + minutes{tm.tm_min} + seconds{tm.tm_sec};
}

// An extension decoded by OpenSSL: null when absent; a repeated or
// undecodable one makes the whole certificate unusable (fail closed).
template <typename Ptr>
Ptr extension(X509* x, int nid, const char* name) {
    int critical = -1;
    void* p = X509_get_ext_d2i(x, nid, &critical, nullptr);
    if (critical == -2)
        throw EntryProblem(std::string("the ") + name + " extension appears more than once");
    if (critical == -1) return Ptr();
    if (p == nullptr)
        throw EntryProblem(std::string("the ") + name +
                           " extension does not decode: " + ossl::drain_errors());
    return Ptr(static_cast<typename Ptr::element_type*>(p));
}

HashAlgorithm hash_by_nid(int nid) {
    switch (nid) {
        case NID_md5:
            return HashAlgorithm::Md5;
        case NID_sha1:
            return HashAlgorithm::Sha1;
        case NID_sha224:
            return HashAlgorithm::Sha224;
        case NID_sha256:
            return HashAlgorithm::Sha256;
        case NID_sha384:
            return HashAlgorithm::Sha384;
        case NID_sha512:
            return HashAlgorithm::Sha512;
        case NID_sha3_256:
            return HashAlgorithm::Sha3_256;
        case NID_sha3_384:
            return HashAlgorithm::Sha3_384;
        case NID_sha3_512:
            return HashAlgorithm::Sha3_512;
        case NID_sm3:
            return HashAlgorithm::Sm3;
        default:
            return HashAlgorithm::Unknown;
    }
}

KeyAlgorithm key_by_nid(int nid) {
    switch (nid) {
        case NID_rsaEncryption:
            return KeyAlgorithm::Rsa;
        case NID_rsassaPss:
            return KeyAlgorithm::RsaPss;
        case NID_X9_62_id_ecPublicKey:
            return KeyAlgorithm::Ecdsa;
        case NID_ED25519:
            return KeyAlgorithm::Ed25519;
        case NID_ED448:
            return KeyAlgorithm::Ed448;
        case NID_dsa:
            return KeyAlgorithm::Dsa;
        case NID_sm2:
            return KeyAlgorithm::Sm2;
        default:
            return KeyAlgorithm::Unknown;
    }
}

std::string curve_name(int nid, const ASN1_OBJECT* obj) {
    switch (nid) {
        case NID_X9_62_prime192v1:
            return "P-192";
        case NID_secp224r1:
            return "P-224";
        case NID_X9_62_prime256v1:
            return "P-256";
        case NID_secp384r1:
            return "P-384";
        case NID_secp521r1:
            return "P-521";
        case NID_sm2:
            return "SM2";
        case NID_undef:
            return dotted(obj);
        default:
            return OBJ_nid2sn(nid);
    }
}

// The key's size as OpenSSL's plain ASN.1 decoders read it, for the two
// kinds nearly every certificate has: an RSA modulus, or a point on a named
// curve (checked to be on it). 0 when the key is malformed, as a full load
// would fail, and bytes after an RSA key are let pass, as a full load does;
// nullopt for any other kind, left to the full load.
std::optional<int> common_key_bits(X509* x) {
    ASN1_OBJECT* alg = nullptr;
    const unsigned char* key = nullptr;
    int key_len = 0;
    X509_ALGOR* params = nullptr;
    if (X509_PUBKEY_get0_param(&alg, &key, &key_len, &params, X509_get_X509_PUBKEY(x)) != 1)
        return std::nullopt;
    ossl::EvpPkeyPtr pkey;
    switch (OBJ_obj2nid(alg)) {
        case NID_rsaEncryption:
            pkey.reset(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &key, key_len));
            break;
        case NID_X9_62_id_ecPublicKey: {
            int ptype = V_ASN1_UNDEF;
            const void* pval = nullptr;
            X509_ALGOR_get0(nullptr, &ptype, &pval, params);
            if (ptype != V_ASN1_OBJECT) return std::nullopt;
            const auto* curve = static_cast<const ASN1_OBJECT*>(pval);
            const int curve_nid = OBJ_obj2nid(curve);
            if (curve_nid == NID_undef || curve_nid == NID_sm2) return std::nullopt;
            Bytes encoded(static_cast<std::size_t>(std::max(i2d_ASN1_OBJECT(curve, nullptr), 0)));
            unsigned char* out = encoded.data();
            if (encoded.empty() || i2d_ASN1_OBJECT(curve, &out) <= 0) return std::nullopt;
            const unsigned char* in = encoded.data();
            pkey.reset(d2i_KeyParams(EVP_PKEY_EC, nullptr, &in, static_cast<long>(encoded.size())));
            if (!pkey) return std::nullopt;  // a curve OpenSSL has no group for
            EVP_PKEY* raw = pkey.get();
            if (d2i_PublicKey(EVP_PKEY_EC, &raw, &key, key_len) == nullptr) return 0;
            break;
        }
        default:
            return std::nullopt;
    }
    if (!pkey) return 0;
    return EVP_PKEY_get_bits(pkey.get());
}

PublicKeyInfo public_key_info(ByteView der, X509* x) {
    PublicKeyInfo info;
    ASN1_OBJECT* alg = nullptr;
    X509_ALGOR* params = nullptr;
    if (X509_PUBKEY_get0_param(&alg, nullptr, nullptr, &params, X509_get_X509_PUBKEY(x)) != 1)
        throw EntryProblem("the SubjectPublicKeyInfo cannot be read");
    info.oid = dotted(alg);
    if (const auto* ml_dsa = ml_dsa_by_oid(info.oid)) {
        // OpenSSL 3.0 cannot load these keys, so there is nothing to measure.
        info.algorithm = ml_dsa->algorithm;
        return info;
    }
    info.algorithm = key_by_nid(OBJ_obj2nid(alg));
    if (info.algorithm == KeyAlgorithm::Ecdsa && params != nullptr) {
        int ptype = V_ASN1_UNDEF;
        const void* pval = nullptr;
        X509_ALGOR_get0(nullptr, &ptype, &pval, params);
        if (ptype == V_ASN1_OBJECT) {
            const auto* curve = static_cast<const ASN1_OBJECT*>(pval);
            const int nid = OBJ_obj2nid(curve);
            info.curve = curve_name(nid, curve);
            if (nid == NID_sm2) info.algorithm = KeyAlgorithm::Sm2;
        } else {
            info.curve = "explicit";  // specified parameters: no named curve to allow
        }
    }
    // OpenSSL 3.0 gives an EdDSA key 253 or 256 bits depending on whether its
    // legacy or its provider code decoded it; the key sizes are fixed, so
    // they are stated here and do not depend on that.
    if (info.algorithm == KeyAlgorithm::Ed25519) {
        info.bits = 256;
        return info;
    }
    if (info.algorithm == KeyAlgorithm::Ed448) {
        info.bits = 456;
        return info;
    }
    // Loading can fail for keys OpenSSL does not know or that are malformed;
    // the size then stays 0, which no minimum-size rule accepts.
    if (auto bits = common_key_bits(x)) {
        info.bits = *bits;
    } else if (auto key = load_public_key(der)) {
        info.bits = EVP_PKEY_get_bits(key.get());
    }
    ERR_clear_error();
    return info;
}

HashAlgorithm pss_hash(const X509_ALGOR* alg) {
    // RFC 4055: absent parameters or an absent hashAlgorithm mean SHA-1.
    if (alg->parameter == nullptr) return HashAlgorithm::Sha1;
    auto* pss = static_cast<RSA_PSS_PARAMS*>(
        ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_PSS_PARAMS), alg->parameter));
    if (pss == nullptr) throw EntryProblem("the RSA-PSS signature parameters do not decode");
    const HashAlgorithm h = pss->hashAlgorithm == nullptr
                                ? HashAlgorithm::Sha1
                                : hash_by_nid(OBJ_obj2nid(pss->hashAlgorithm->algorithm));
    RSA_PSS_PARAMS_free(pss);
    return h;
}

// OpenSSL 3.0 names these OIDs but has no digest/key cross-reference for
// them, so OBJ_find_sigid_algs does not know them.
bool sha3_sigid(int nid, int& md_nid, int& pkey_nid) {
    struct Sigid {
        int sig;
        int md;
        int pkey;
    };
    static constexpr std::array<Sigid, 8> kSha3{{
        {NID_ecdsa_with_SHA3_224, NID_sha3_224, NID_X9_62_id_ecPublicKey},
        {NID_ecdsa_with_SHA3_256, NID_sha3_256, NID_X9_62_id_ecPublicKey},
        {NID_ecdsa_with_SHA3_384, NID_sha3_384, NID_X9_62_id_ecPublicKey},
        {NID_ecdsa_with_SHA3_512, NID_sha3_512, NID_X9_62_id_ecPublicKey},
        {NID_dsa_with_SHA3_224, NID_sha3_224, NID_dsa},
        {NID_dsa_with_SHA3_256, NID_sha3_256, NID_dsa},
        {NID_dsa_with_SHA3_384, NID_sha3_384, NID_dsa},
        {NID_dsa_with_SHA3_512, NID_sha3_512, NID_dsa},
    }};
    for (const auto& s : kSha3) {
        if (s.sig == nid) {
            md_nid = s.md;
            pkey_nid = s.pkey;
            return true;
        }
    }
    return false;
}

SignatureInfo signature_info(X509* x) {
    const ASN1_BIT_STRING* sig = nullptr;
    const X509_ALGOR* alg = nullptr;
    X509_get0_signature(&sig, &alg, x);
    // The kernel refuses a certificate whose two signature algorithm fields
    // differ, and so does X509_verify: it is unusable either way.
    if (X509_ALGOR_cmp(alg, X509_get0_tbs_sigalg(x)) != 0)
        throw EntryProblem(
            "the signature algorithm differs from the one inside the TBSCertificate");
    const ASN1_OBJECT* obj = nullptr;
    X509_ALGOR_get0(&obj, nullptr, nullptr, alg);

    SignatureInfo info;
    info.oid = dotted(obj);
    const int nid = OBJ_obj2nid(obj);
    if (const auto* ml_dsa = ml_dsa_by_oid(info.oid)) {
        info.key_algorithm = ml_dsa->algorithm;
        info.hash = HashAlgorithm::None;  // pure ML-DSA hashes internally
        info.name = ml_dsa->name;
        return info;
    }
    info.name = nid == NID_undef ? info.oid : std::string(OBJ_nid2ln(nid));
    if (nid == NID_rsassaPss) {
        info.key_algorithm = KeyAlgorithm::RsaPss;
        info.hash = pss_hash(alg);
        return info;
    }
    int md_nid = NID_undef;
    int pkey_nid = NID_undef;
    if (nid != NID_undef &&
        (OBJ_find_sigid_algs(nid, &md_nid, &pkey_nid) == 1 || sha3_sigid(nid, md_nid, pkey_nid))) {
        info.key_algorithm = key_by_nid(pkey_nid);
        // Ed25519 and Ed448 map to no digest: they hash internally.
        info.hash = md_nid == NID_undef ? HashAlgorithm::None : hash_by_nid(md_nid);
    }
    return info;
}

std::string general_names_line(const GENERAL_NAMES* names) {
    std::string out;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
        std::string one;
        if (gn->type == GEN_DIRNAME) {
            one = name_line(gn->d.directoryName, "authorityCertIssuer");
        } else {
            ossl::BioPtr bio(BIO_new(BIO_s_mem()));
            if (bio && GENERAL_NAME_print(bio.get(), const_cast<GENERAL_NAME*>(gn)) == 1)
                one = bio_text(bio.get());
        }
        if (!out.empty()) out += "; ";
        out += one;
    }
    return out;
}

Bytes octets(const ASN1_OCTET_STRING* s) {
    const unsigned char* p = ASN1_STRING_get0_data(s);
    return Bytes(p, p + ASN1_STRING_length(s));
}

void read_extensions(X509* x, CertificateInfo& info) {
    if (auto bc =
            extension<ossl::BasicConstraintsPtr>(x, NID_basic_constraints, "basicConstraints")) {
        info.basic_constraints_present = true;
        info.is_ca = bc->ca != 0;
        if (bc->pathlen != nullptr) {
            std::int64_t v = 0;
            if (ASN1_INTEGER_get_int64(&v, bc->pathlen) != 1 || v < 0 || v > INT_MAX)
                throw EntryProblem("the basicConstraints pathLenConstraint is out of range");
            info.path_len = static_cast<int>(v);
        }
    }
    if (auto ku = extension<ossl::Asn1BitStringPtr>(x, NID_key_usage, "keyUsage")) {
        std::uint16_t bits = 0;
        for (int i = 0; i <= 8; ++i) {
            if (ASN1_BIT_STRING_get_bit(ku.get(), i)) bits |= static_cast<std::uint16_t>(1u << i);
        }
        info.key_usage = bits;
    }
    if (auto eku = extension<ossl::ExtKeyUsagePtr>(x, NID_ext_key_usage, "extendedKeyUsage")) {
        for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
            const ASN1_OBJECT* o = sk_ASN1_OBJECT_value(eku.get(), i);
            const int nid = OBJ_obj2nid(o);
            info.extended_key_usage.push_back(nid == NID_undef ? dotted(o) : OBJ_nid2sn(nid));
        }
    }
    if (auto skid = extension<ossl::Asn1OctetStringPtr>(x, NID_subject_key_identifier,
                                                        "subjectKeyIdentifier")) {
        info.subject_key_id = octets(skid.get());
    }
    if (auto akid = extension<ossl::AuthorityKeyIdPtr>(x, NID_authority_key_identifier,
                                                       "authorityKeyIdentifier")) {
        if (akid->keyid != nullptr) info.authority_key_id = octets(akid->keyid);
        if (akid->issuer != nullptr) info.authority_issuer = general_names_line(akid->issuer);
        if (akid->serial != nullptr)
            info.authority_serial_hex = integer_hex(akid->serial, "AKID serial");
    }
}

// The hash of the canonical encoding X509_NAME_cmp compares.
std::optional<std::uint32_t> name_hash(const X509_NAME* name) {
    int ok = 0;
    const unsigned long hash = X509_NAME_hash_ex(name, nullptr, nullptr, &ok);
    if (ok != 1) return std::nullopt;
    return static_cast<std::uint32_t>(hash);
}

}  // namespace

CertificateInfo inspect(ByteView der, const TbsLayout& layout, X509* x) {
    CertificateInfo info;
    info.subject = name_line(X509_get_subject_name(x), "subject");
    info.issuer = name_line(X509_get_issuer_name(x), "issuer");
    info.serial_hex = to_hex(layout.serial.content(der));
    info.fingerprint = Fingerprint::of_der(der);
    // The exact TBS bytes as they stand in the DER: what the kernel hashes
    // for "tbs:" blacklist entries. Re-encoding could differ; slicing cannot.
    info.tbs_sha256 = Sha256::of(layout.tbs.whole(der));
    info.public_key = public_key_info(der, x);
    info.signature = signature_info(x);
    read_extensions(x, info);
    info.not_before = to_sys_seconds(X509_get0_notBefore(x), "notBefore");
    info.not_after = to_sys_seconds(X509_get0_notAfter(x), "notAfter");
    info.subject_name_hash = name_hash(X509_get_subject_name(x));
    info.issuer_name_hash = name_hash(X509_get_issuer_name(x));
    info.self_issued = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
    if (info.self_issued) {
        auto key = load_public_key(der);
        info.self_signed = verify_signature(der, x, key.get());
    }
    ERR_clear_error();
    info.kernel_description = kernel_key_description(der, layout, info.subject_key_id);
    return info;
}

namespace {

// The kernel's ASN.1 decoder remembers the last CN, O and emailAddress
// value of a Name by offset and size. It keeps them in a u16 offset from the
// start of the certificate and a u8 size, so long values are cut; we do the
// same, or the description would not match the key the kernel makes.
struct NameSegment {
    std::uint8_t size = 0;
    std::uint16_t offset = 0;
};

struct NameSegments {
    NameSegment cn;
    NameSegment o;
    NameSegment email;
};

constexpr std::array<std::uint8_t, 3> kOidCommonName{0x55, 0x04, 0x03};
constexpr std::array<std::uint8_t, 3> kOidOrganization{0x55, 0x04, 0x0a};
constexpr std::array<std::uint8_t, 9> kOidEmail{0x2a, 0x86, 0x48, 0x86, 0xf7,
                                                0x0d, 0x01, 0x09, 0x01};

template <std::size_t N>
bool same(ByteView a, const std::array<std::uint8_t, N>& b) {
    return a.size() == N && std::equal(a.begin(), a.end(), b.begin());
}

NameSegments name_segments(ByteView der, const Tlv& name) {
    NameSegments s;
    for (std::size_t rdn_pos = name.content_offset(); rdn_pos < name.end();) {
        const Tlv rdn = read_tlv(der, rdn_pos, name.end());
        rdn_pos = rdn.end();
        for (std::size_t ava_pos = rdn.content_offset(); ava_pos < rdn.end();) {
            const Tlv ava = read_tlv(der, ava_pos, rdn.end());
            ava_pos = ava.end();
            const Tlv type = read_tlv(der, ava.content_offset(), ava.end());
            const Tlv value = read_tlv(der, type.end(), ava.end());
            const ByteView oid = type.content(der);
            NameSegment seg{static_cast<std::uint8_t>(value.length),
                            static_cast<std::uint16_t>(value.content_offset())};
            if (same(oid, kOidCommonName)) {
                s.cn = seg;
            } else if (same(oid, kOidOrganization)) {
                s.o = seg;
            } else if (same(oid, kOidEmail)) {
                s.email = seg;
            }
        }
    }
    return s;
}

// x509_fabricate_name: O and CN are combined as "O: CN" unless the CN
// already starts with the O, or both share their first 7 bytes.
std::string fabricate_name(ByteView der, const NameSegments& s) {
    auto bytes = [&](const NameSegment& seg) { return der.subspan(seg.offset, seg.size); };
    auto text = [&](const NameSegment& seg) {
        auto b = bytes(seg);
        return std::string(b.begin(), b.end());
    };
    if (s.cn.size == 0 && s.o.size == 0 && s.email.size == 0) return {};
    if (s.cn.size != 0 && s.o.size != 0) {
        const auto cn = bytes(s.cn);
        const auto o = bytes(s.o);
        if (cn.size() >= o.size() && std::equal(o.begin(), o.end(), cn.begin())) return text(s.cn);
        if (cn.size() >= 7 && o.size() >= 7 && std::equal(o.begin(), o.begin() + 7, cn.begin()))
            return text(s.cn);
        return text(s.o) + ": " + text(s.cn);
    }
    if (s.cn.size != 0) return text(s.cn);
    if (s.o.size != 0) return text(s.o);
    return text(s.email);
}

}  // namespace

std::string kernel_key_description(ByteView der, const TbsLayout& layout,
                                   const std::optional<Bytes>& subject_key_id) {
    std::string subject = fabricate_name(der, name_segments(der, layout.subject));
    // The kernel measures the name with strlen: it ends at the first NUL
    // (a BMPString name, or one with an embedded NUL, comes out short).
    subject.resize(std::strlen(subject.c_str()));
    // The raw SKID, else the raw serial content octets (leading 0x00 kept).
    const std::string id =
        subject_key_id ? to_hex(*subject_key_id) : to_hex(layout.serial.content(der));
    return subject + ": " + id;
}

}  // namespace anchord::detail
