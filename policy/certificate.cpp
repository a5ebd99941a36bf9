// Reading certificates from bytes: one DER certificate, or PEM text with one
// or many CERTIFICATE blocks. Every position of a bundle is judged on its own,
// so one bad block never hides the good ones, and the caller can say which
// one was bad.
#include "anchord/certificate.hpp"

#include <openssl/err.h>
#include <openssl/provider.h>

#include <array>
#include <string_view>
#include <utility>

#include "anchord/base64.hpp"
#include "anchord/openssl.hpp"
#include "certificate_detail.hpp"

namespace anchord {

namespace {

constexpr std::array<std::pair<KeyAlgorithm, std::string_view>, 11> kKeyAlgorithmNames{{
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
    {KeyAlgorithm::Sm2, "sm2"},
}};

constexpr std::array<std::pair<HashAlgorithm, std::string_view>, 12> kHashAlgorithmNames{{
    {HashAlgorithm::Unknown, "unknown"},
    {HashAlgorithm::None, "none"},
    {HashAlgorithm::Md5, "md5"},
    {HashAlgorithm::Sha1, "sha1"},
    {HashAlgorithm::Sha224, "sha224"},
    {HashAlgorithm::Sha256, "sha256"},
    {HashAlgorithm::Sha384, "sha384"},
    {HashAlgorithm::Sha512, "sha512"},
    {HashAlgorithm::Sha3_256, "sha3-256"},
    {HashAlgorithm::Sha3_384, "sha3-384"},
    {HashAlgorithm::Sha3_512, "sha3-512"},
    {HashAlgorithm::Sm3, "sm3"},
}};

constexpr std::array<std::pair<std::uint16_t, std::string_view>, 9> kKeyUsageNames{{
    {key_usage::digital_signature, "digitalSignature"},
    {key_usage::non_repudiation, "nonRepudiation"},
    {key_usage::key_encipherment, "keyEncipherment"},
    {key_usage::data_encipherment, "dataEncipherment"},
    {key_usage::key_agreement, "keyAgreement"},
    {key_usage::key_cert_sign, "keyCertSign"},
    {key_usage::crl_sign, "cRLSign"},
    {key_usage::encipher_only, "encipherOnly"},
    {key_usage::decipher_only, "decipherOnly"},
}};

template <typename Table, typename Value>
std::string_view name_of(const Table& table, Value v, std::string_view fallback) noexcept {
    for (const auto& [value, name] : table) {
        if (value == v) return name;
    }
    return fallback;
}

template <typename Table>
auto value_of(const Table& table, std::string_view name) noexcept
    -> std::optional<typename Table::value_type::first_type> {
    for (const auto& [value, n] : table) {
        if (n == name) return value;
    }
    return std::nullopt;
}

}  // namespace

std::string_view to_string(KeyAlgorithm a) noexcept {
    return name_of(kKeyAlgorithmNames, a, "unknown");
}
std::optional<KeyAlgorithm> parse_key_algorithm(std::string_view name) noexcept {
    return value_of(kKeyAlgorithmNames, name);
}

std::string_view to_string(HashAlgorithm h) noexcept {
    return name_of(kHashAlgorithmNames, h, "unknown");
}
std::optional<HashAlgorithm> parse_hash_algorithm(std::string_view name) noexcept {
    return value_of(kHashAlgorithmNames, name);
}

std::string_view key_usage_name(std::uint16_t bit) noexcept {
    return name_of(kKeyUsageNames, bit, "");
}
std::optional<std::uint16_t> parse_key_usage(std::string_view name) noexcept {
    return value_of(kKeyUsageNames, name);
}

namespace {

using detail::EntryProblem;

std::string position_name(std::size_t index) {
    return "certificate " + std::to_string(index + 1);
}

Error entry_error(std::size_t index, const std::string& what) {
    return Error(ErrorCode::InvalidCertificate, position_name(index) + ": " + what);
}

Bytes to_bytes(ByteView v) {
    return Bytes(v.begin(), v.end());
}

// One DER certificate, judged strictly: the kernel and OpenSSL each accept
// some BER, and a certificate must mean the same bytes to both of them and
// to the hashes we keep (fingerprint, TBS hash). `keep`, when given, holds
// these same bytes: the certificate shares them instead of copying.
Certificate decode_der(ByteView der, const SharedBytes* keep = nullptr) {
    const detail::Tlv outer = detail::check_der_structure(der);
    const detail::TbsLayout layout = detail::locate_tbs(der, outer);

    const unsigned char* p = der.data();
    ossl::X509Ptr x509 = detail::read_x509(der, &p);
    if (!x509) throw EntryProblem("not an X.509 certificate: " + ossl::drain_errors());
    if (p != der.data() + der.size())
        throw EntryProblem("OpenSSL read only part of the certificate");

    // i2d_X509 writes the TBS from the bytes it was read from, so the outer
    // layer is checked here and the TBS by forcing a fresh encoding below.
    Bytes again(der.size());
    unsigned char* out = again.data();
    if (i2d_X509(x509.get(), nullptr) != static_cast<int>(der.size()) ||
        i2d_X509(x509.get(), &out) != static_cast<int>(der.size()) ||
        !std::equal(again.begin(), again.end(), der.begin())) {
        throw EntryProblem("not DER: re-encoding the certificate gives different bytes");
    }
    const ByteView tbs = layout.tbs.whole(der);
    const int tbs_len = i2d_re_X509_tbs(x509.get(), nullptr);
    Bytes tbs_again(tbs_len > 0 ? static_cast<std::size_t>(tbs_len) : 0);
    out = tbs_again.data();
    if (tbs_len <= 0 || static_cast<std::size_t>(tbs_len) != tbs.size() ||
        i2d_re_X509_tbs(x509.get(), &out) != tbs_len ||
        !std::equal(tbs_again.begin(), tbs_again.end(), tbs.begin())) {
        throw EntryProblem("not DER: re-encoding the TBSCertificate gives different bytes");
    }
    ERR_clear_error();

    CertificateInfo info = detail::inspect(der, layout, x509.get());
    return Certificate(keep ? *keep : SharedBytes(to_bytes(der)),
                       std::shared_ptr<X509>(x509.release(), X509_free), std::move(info));
}

BundleEntry undecoded_entry(std::size_t index, Bytes der) {
    BundleEntry e;
    e.index = index;
    e.der = std::move(der);
    return e;
}

// ---- PEM ---------------------------------------------------------------

constexpr std::string_view kBegin = "-----BEGIN ";
constexpr std::string_view kEnd = "-----END ";
constexpr std::string_view kDashes = "-----";
constexpr std::string_view kCertificateLabel = "CERTIFICATE";

std::string_view trim(std::string_view s) {
    const auto blank = [](char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
    };
    while (!s.empty() && blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && blank(s.back())) s.remove_suffix(1);
    return s;
}

ByteView as_bytes(std::string_view s) {
    return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

// "-----BEGIN X-----" -> "X"; nullopt when the line is no such marker.
std::optional<std::string_view> marker_label(std::string_view line, std::string_view start) {
    if (!line.starts_with(start) || !line.ends_with(kDashes) ||
        line.size() < start.size() + kDashes.size())
        return std::nullopt;
    return line.substr(start.size(), line.size() - start.size() - kDashes.size());
}

struct BodyLine {
    std::string_view text;
    std::size_t number = 0;  // 1-based line number in the input
};

// Strict base64 (RFC 4648 section 4, as RFC 7468 uses it): whitespace may
// surround the text, but every other character, misplaced padding or
// non-zero padding bits are an error.
Bytes decode_base64(const std::vector<BodyLine>& lines) {
    std::size_t characters = 0;
    for (const auto& line : lines) characters += line.text.size();
    Bytes out(characters / 4 * 3);
    std::size_t written = 0;
    std::uint32_t acc = 0;
    std::size_t count = 0;    // base64 characters so far, padding included
    std::size_t padding = 0;  // '=' seen
    for (const auto& line : lines) {
        for (char c : line.text) {
            const int v = base64::value(c);
            // Every character of a bundle passes here: the alphabet before
            // padding goes straight through, the rest is told apart below.
            if (v >= 0 && padding == 0) {
                acc = acc << 6 | static_cast<std::uint32_t>(v);
                if (++count % 4 == 0) {
                    out[written++] = static_cast<std::uint8_t>(acc >> 16);
                    out[written++] = static_cast<std::uint8_t>(acc >> 8);
                    out[written++] = static_cast<std::uint8_t>(acc);
                    acc = 0;
                }
                continue;
            }
            if (c == ' ' || c == '\t' || c == '\r') continue;
            const auto where = [&line] { return " on line " + std::to_string(line.number); };
            if (c == '=') {
                ++padding;
                ++count;
                if (padding > 2) throw EntryProblem("bad base64: too much '=' padding" + where());
                continue;
            }
            if (v >= 0) throw EntryProblem("bad base64: data after '=' padding" + where());
            throw EntryProblem("bad base64: character " +
                               detail::quote(as_bytes(std::string_view(&c, 1))) + where());
        }
    }
    if (count % 4 != 0)
        throw EntryProblem("bad base64: " + std::to_string(count) +
                           " characters, not a multiple of 4");
    out.resize(written);
    if (padding == 1) {
        // The last group held 3 characters (18 bits) for 2 bytes.
        if (acc & 0x3) throw EntryProblem("bad base64: non-zero padding bits");
        out.push_back(static_cast<std::uint8_t>(acc >> 10));
        out.push_back(static_cast<std::uint8_t>(acc >> 2));
    } else if (padding == 2) {
        if (acc & 0xf) throw EntryProblem("bad base64: non-zero padding bits");
        out.push_back(static_cast<std::uint8_t>(acc >> 4));
    }
    return out;
}

// One position found in PEM text: a block, or text outside any block.
struct PemPosition {
    enum class Kind { Block, Stray } kind = Kind::Block;
    std::string label;
    std::vector<BodyLine> body;
    std::string_view raw;  // the position's text, for a CERTIFICATE block's entry
    std::size_t first_line = 0;
    std::optional<std::string> problem;  // found while splitting (no END line, ...)
};

class PemScanner {
  public:
    PemScanner(std::string_view text, std::size_t max_positions)
        : text_(text), max_positions_(max_positions) {}

    std::vector<PemPosition> scan() {
        std::size_t line_no = 0;
        for (std::size_t start = 0; start < text_.size();) {
            std::size_t nl = text_.find('\n', start);
            const std::size_t end = nl == std::string_view::npos ? text_.size() : nl + 1;
            ++line_no;
            on_line(text_.substr(start, end - start), start, line_no);
            start = end;
        }
        if (open_) {
            open_->problem =
                "no \"-----END " + open_->label + "-----\" line before the end of the input";
            close(text_.size());
        }
        return std::move(positions_);
    }

  private:
    void on_line(std::string_view raw_line, std::size_t offset, std::size_t line_no) {
        const std::string_view line = trim(raw_line.substr(0, raw_line.find('\n')));
        const auto begin_label = marker_label(line, kBegin);
        if (open_) {
            if (auto end_label = marker_label(line, kEnd)) {
                if (*end_label != open_->label) {
                    open_->problem = "block begun as \"" + open_->label + "\" ends as \"" +
                                     std::string(*end_label) + "\"";
                }
                close(offset + raw_line.size());
                return;
            }
            if (!begin_label) {
                open_->body.push_back({line, line_no});
                return;
            }
            // A BEGIN inside a block: the open block lost its END line.
            open_->problem = "no \"-----END " + open_->label + "-----\" line before line " +
                             std::to_string(line_no);
            close(offset);
        }
        if (begin_label) {
            in_stray_ = false;
            open(PemPosition::Kind::Block, offset, line_no).label = std::string(*begin_label);
            return;
        }
        // Outside blocks: blank lines and '#' comment lines (as CA bundles
        // carry between certificates) are allowed; other text is a position
        // of its own, so that nothing in the input passes unseen.
        if (line.empty() || line.front() == '#') return;
        // Consecutive lines of such text, even with blank lines between
        // them, are one position.
        if (in_stray_) return;
        auto& p = open(PemPosition::Kind::Stray, offset, line_no);
        p.problem = "text outside a PEM block on line " + std::to_string(line_no) + ": " +
                    detail::quote(as_bytes(line));
        close(offset + raw_line.size());
        in_stray_ = true;
    }

    PemPosition& open(PemPosition::Kind kind, std::size_t offset, std::size_t line_no) {
        if (positions_.size() + 1 > max_positions_) {
            throw Error(
                ErrorCode::InvalidArgument,
                "the input holds more than " + std::to_string(max_positions_) +
                    " certificates (limit max_certificates=" + std::to_string(max_positions_) +
                    "): " + position_name(positions_.size()) + " starts on line " +
                    std::to_string(line_no));
        }
        open_ = PemPosition{};
        open_->kind = kind;
        open_->first_line = line_no;
        open_start_ = offset;
        return *open_;
    }

    void close(std::size_t end_offset) {
        open_->raw = text_.substr(open_start_, end_offset - open_start_);
        positions_.push_back(std::move(*open_));
        open_ = std::nullopt;
    }

    std::string_view text_;
    std::size_t max_positions_;
    std::vector<PemPosition> positions_;
    std::optional<PemPosition> open_;
    std::size_t open_start_ = 0;
    bool in_stray_ = false;  // the last position is stray text, not yet ended by a block
};

BundleEntry pem_entry(std::size_t index, const PemPosition& p) {
    BundleEntry e;
    e.index = index;
    // Only a position that claims to be a certificate hands its bytes back:
    // another block, or stray text (a key whose BEGIN line was mangled),
    // may hold a private key, which we neither keep nor let be shown.
    if (p.kind == PemPosition::Kind::Stray) {
        e.error = entry_error(index, *p.problem);
        return e;
    }
    if (p.label != kCertificateLabel) {
        e.error = entry_error(index, "a PEM block labelled \"" + p.label + "\" (line " +
                                         std::to_string(p.first_line) + "), not CERTIFICATE" +
                                         (p.problem ? "; " + *p.problem : std::string()));
        return e;
    }
    if (p.problem) {
        e.der = to_bytes(as_bytes(p.raw));
        e.error = entry_error(index, *p.problem);
        return e;
    }
    Bytes der;
    try {
        der = decode_base64(p.body);
        if (der.empty())
            throw EntryProblem("the CERTIFICATE block on line " + std::to_string(p.first_line) +
                               " is empty");
    } catch (const EntryProblem& problem) {
        e.der = to_bytes(as_bytes(p.raw));
        e.error = entry_error(index, problem.what());
        return e;
    }
    return undecoded_entry(index, std::move(der));
}

// Any real certificate is longer than 127 bytes, so its DER starts with a
// SEQUENCE tag and a long-form (or, in BER, indefinite) length byte: neither
// is text, and text never starts that way.
bool looks_like_der(ByteView bytes) {
    return bytes.size() >= 2 && bytes[0] == 0x30 && (bytes[1] & 0x80) != 0;
}

void check_size(ByteView bytes, const ReadLimits& limits) {
    if (bytes.size() > limits.max_bytes) {
        throw Error(ErrorCode::InvalidArgument,
                    "the input is " + std::to_string(bytes.size()) +
                        " bytes, over the limit max_bytes=" + std::to_string(limits.max_bytes));
    }
    if (bytes.empty())
        throw Error(ErrorCode::InvalidCertificate, "the input is empty: no certificate");
}

}  // namespace

std::vector<BundleEntry> read_bundle(ByteView bytes, const ReadLimits& limits) {
    return read_bundle(bytes, limits, [](std::size_t count, const auto& body) {
        for (std::size_t i = 0; i < count; ++i) body(i);
    });
}

std::vector<BundleEntry> read_bundle(ByteView bytes, const ReadLimits& limits,
                                     const ForEach& for_each) {
    auto entries = split_bundle(bytes, limits);
    for_each(entries.size(), [&](std::size_t i) { decode_entry(entries[i]); });
    return entries;
}

void decode_entry(BundleEntry& entry) {
    if (entry.certificate || entry.error) return;
    try {
        entry.certificate = decode_der(entry.der);
    } catch (const EntryProblem& problem) {
        entry.error = entry_error(entry.index, problem.what());
    }
    ERR_clear_error();
}

std::vector<BundleEntry> split_bundle(ByteView bytes, const ReadLimits& limits) {
    check_size(bytes, limits);
    if (looks_like_der(bytes)) {
        if (limits.max_certificates < 1) {
            throw Error(ErrorCode::InvalidArgument,
                        "the input holds 1 certificate, over the limit max_certificates=0");
        }
        return {undecoded_entry(0, to_bytes(bytes))};
    }

    std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    // Editors on Windows put a UTF-8 byte order mark before the first line.
    if (text.starts_with("\xef\xbb\xbf")) text.remove_prefix(3);
    const std::vector<PemPosition> positions = PemScanner(text, limits.max_certificates).scan();
    std::string labels;
    bool any_certificate = false;
    for (const auto& p : positions) {
        if (p.kind != PemPosition::Kind::Block) continue;
        if (p.label == kCertificateLabel) any_certificate = true;
        labels += (labels.empty() ? "\"" : ", \"") + p.label + "\"";
    }
    if (!any_certificate) {
        throw Error(
            ErrorCode::InvalidCertificate,
            labels.empty()
                ? "no certificate in the input: it is not DER (which starts with byte 0x30) "
                  "and has no \"-----BEGIN CERTIFICATE-----\" line"
                : "no certificate in the input: its PEM blocks are labelled " + labels);
    }
    std::vector<BundleEntry> entries;
    entries.reserve(positions.size());
    for (std::size_t i = 0; i < positions.size(); ++i)
        entries.push_back(pem_entry(i, positions[i]));
    return entries;
}

std::vector<Certificate> read_certificates(ByteView bytes, const ReadLimits& limits) {
    std::vector<Certificate> out;
    for (auto& entry : read_bundle(bytes, limits)) {
        if (entry.error) throw *entry.error;
        out.push_back(std::move(*entry.certificate));
    }
    return out;
}

X509* Certificate::x509() const {
    if (auto held = parts_->x509.load(std::memory_order_acquire)) return held.get();
    // Two threads may both decode here; one result is kept, the other freed.
    const unsigned char* p = parts_->der.data();
    ossl::X509Ptr fresh = detail::read_x509(parts_->der, &p);
    if (!fresh) {
        // The DER was read and checked once already: only a failed
        // allocation (or DER that did not come from this library) ends here.
        throw Error(ErrorCode::Internal, "cannot decode the certificate " +
                                             parts_->info.fingerprint.to_string() +
                                             " again: " + ossl::drain_errors());
    }
    std::shared_ptr<X509> decoded(fresh.release(), X509_free);
    std::shared_ptr<X509> expected;
    if (!parts_->x509.compare_exchange_strong(expected, decoded, std::memory_order_acq_rel))
        return expected.get();  // another thread's, kept by the parts
    return decoded.get();
}

EVP_PKEY* Certificate::public_key() const {
    if (auto held = parts_->public_key.load(std::memory_order_acquire)) return held.get();
    if (parts_->public_key_tried.load(std::memory_order_acquire)) return nullptr;
    // As with x509(): two threads may both load it; one result is kept.
    ossl::EvpPkeyPtr fresh = detail::load_public_key(parts_->der);
    ERR_clear_error();
    if (!fresh) {
        parts_->public_key_tried.store(true, std::memory_order_release);
        return nullptr;
    }
    std::shared_ptr<EVP_PKEY> loaded(fresh.release(), EVP_PKEY_free);
    std::shared_ptr<EVP_PKEY> expected;
    if (!parts_->public_key.compare_exchange_strong(expected, loaded, std::memory_order_acq_rel))
        return expected.get();
    return loaded.get();
}

bool Certificate::signature_verified_by(EVP_PKEY* issuer_key) const {
    return detail::verify_signature(parts_->der, x509(), issuer_key);
}

Certificate Certificate::without_x509() const {
    return Certificate(parts_->der, nullptr, parts_->info);
}

namespace {
// One certificate read on its own, as a bundle's first position would be;
// `keep`, when given, holds the same bytes and is shared, not copied.
Certificate parse_one(ByteView der, const SharedBytes* keep) {
    check_size(der, ReadLimits{});
    try {
        Certificate c = decode_der(der, keep);
        ERR_clear_error();
        return c;
    } catch (const EntryProblem& problem) {
        ERR_clear_error();
        throw entry_error(0, problem.what());
    }
}
}  // namespace

Certificate parse_der_certificate(ByteView der) {
    return parse_one(der, nullptr);
}

Certificate parse_shared_der_certificate(const SharedBytes& der) {
    return parse_one(der, &der);
}

}  // namespace anchord

namespace anchord::detail {

namespace {

// A library context with no algorithm in it (OpenSSL's "null" provider keeps
// it from falling back to the default one). A certificate decoded in it has
// its names, fields and extensions but no public key: the decoder lookup for
// the key finds nothing, at once.
OSSL_LIB_CTX* fields_only_context() {
    struct Context {
        Context() : ctx(OSSL_LIB_CTX_new()), null(OSSL_PROVIDER_load(ctx, "null")) {}
        ~Context() {
            if (null) OSSL_PROVIDER_unload(null);
            OSSL_LIB_CTX_free(ctx);
        }
        Context(const Context&) = delete;
        Context& operator=(const Context&) = delete;
        OSSL_LIB_CTX* ctx;
        OSSL_PROVIDER* null;
    };
    static const Context context;
    if (context.ctx == nullptr || context.null == nullptr)
        throw Error(ErrorCode::Internal,
                    "OpenSSL cannot set up a library context: " + ossl::drain_errors());
    return context.ctx;
}

}  // namespace

ossl::X509Ptr read_x509(ByteView der, const unsigned char** end) {
    ossl::X509Ptr x509(X509_new_ex(fields_only_context(), nullptr));
    if (!x509) return x509;
    // ASN1_item_d2i, unlike d2i_X509 into an object, does not cache the
    // extensions, which would refuse a certificate whose extensions do not
    // decode before inspect() can say which one.
    X509* raw = x509.release();
    *end = der.data();
    const bool read = ASN1_item_d2i(reinterpret_cast<ASN1_VALUE**>(&raw), end,
                                    static_cast<long>(der.size()), ASN1_ITEM_rptr(X509)) != nullptr;
    ossl::X509Ptr out(raw);  // on failure OpenSSL has freed the object and nulled `raw`
    if (!read) return nullptr;
    return out;
}

ossl::EvpPkeyPtr load_public_key(ByteView der) {
    // The default library context, as anchord always loaded keys.
    const unsigned char* p = der.data();
    ossl::X509Ptr full(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!full) return nullptr;
    EVP_PKEY* key = X509_get0_pubkey(full.get());
    if (key == nullptr || EVP_PKEY_up_ref(key) != 1) return nullptr;
    return ossl::EvpPkeyPtr(key);
}

bool verify_signature(ByteView der, X509* x509, EVP_PKEY* key) {
    if (key == nullptr) return false;
    // The TBSCertificate as it stands in the DER (decode_der checked that it
    // re-encodes to the same bytes): an ANY holding a SEQUENCE is encoded as
    // its bytes exactly, so OpenSSL hashes what the kernel hashes.
    const Tlv outer = read_tlv(der, 0, der.size());
    const ByteView tbs = read_tlv(der, outer.content_offset(), outer.end()).whole(der);
    ossl::Asn1StringPtr sequence(ASN1_STRING_type_new(V_ASN1_SEQUENCE));
    if (!sequence || ASN1_STRING_set(sequence.get(), tbs.data(), static_cast<int>(tbs.size())) != 1)
        return false;
    ossl::Asn1TypePtr any(ASN1_TYPE_new());
    if (!any) return false;
    ASN1_TYPE_set(any.get(), V_ASN1_SEQUENCE, sequence.release());
    const ASN1_BIT_STRING* signature = nullptr;
    const X509_ALGOR* algorithm = nullptr;
    X509_get0_signature(&signature, &algorithm, x509);
    // X509_verify compares the two signature algorithm fields first;
    // inspect() refuses a certificate where they differ.
    if (X509_ALGOR_cmp(algorithm, X509_get0_tbs_sigalg(x509)) != 0) return false;
    return ASN1_item_verify_ex(ASN1_ITEM_rptr(ASN1_ANY), algorithm, signature, any.get(), nullptr,
                               key, nullptr, nullptr) == 1;
}

}  // namespace anchord::detail
