// The verdict engine: every rule anchord applies before it links a
// certificate into a kernel keyring, each reported as a check with a stable
// id (docs/checks.md) and a reason that quotes the values it looked at.
#include "anchord/verdict.hpp"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>

#include "anchord/openssl.hpp"
#include "chain.hpp"

namespace anchord {

std::string_view to_string(Outcome o) noexcept {
    switch (o) {
        case Outcome::Pass:
            return "pass";
        case Outcome::Fail:
            return "fail";
        case Outcome::Warn:
            return "warn";
        case Outcome::Skip:
            return "skip";
    }
    return "?";
}

namespace {

using detail::ChainGraph;
using detail::ChainNode;
using detail::Problem;
using detail::Severity;
using detail::WalkEnd;

// The check ids: a contract with the daemon, the client and docs/checks.md.
namespace id {
constexpr std::string_view keyring_known = "keyring.known";
constexpr std::string_view keyring_enrollable = "keyring.enrollable";
constexpr std::string_view keyring_unguarded = "keyring.unguarded";
constexpr std::string_view deny_fingerprint = "deny.fingerprint";
constexpr std::string_view deny_tbs = "deny.tbs";
constexpr std::string_view deny_kernel_blacklist = "deny.kernel-blacklist";
constexpr std::string_view role_ca = "role.ca";
constexpr std::string_view role_signing = "role.signing";
constexpr std::string_view ca_basic_constraints = "ca.basic-constraints";
constexpr std::string_view ca_enforcement = "ca.enforcement";
constexpr std::string_view usage_required = "usage.required";
constexpr std::string_view usage_forbidden = "usage.forbidden";
constexpr std::string_view usage_key_cert_sign = "usage.key-cert-sign";
constexpr std::string_view algo_key_type = "algo.key-type";
constexpr std::string_view algo_key_size = "algo.key-size";
constexpr std::string_view hash_allowed = "hash.allowed";
constexpr std::string_view kernel_algorithm = "kernel.algorithm";
constexpr std::string_view validity_not_yet_valid = "validity.not-yet-valid";
constexpr std::string_view validity_not_expired = "validity.not-expired";
constexpr std::string_view x509_serial = "x509.serial";
constexpr std::string_view x509_names = "x509.names";
constexpr std::string_view x509_signature_algorithm = "x509.signature-algorithm";
constexpr std::string_view x509_extensions = "x509.extensions";
constexpr std::string_view x509_extension_criticality = "x509.extension-criticality";
constexpr std::string_view x509_key_identifiers = "x509.key-identifiers";
constexpr std::string_view x509_ca_consistency = "x509.ca-consistency";
constexpr std::string_view x509_named_curve = "x509.named-curve";
constexpr std::string_view chain_issuer_found = "chain.issuer-found";
constexpr std::string_view chain_signature = "chain.signature";
constexpr std::string_view chain_issuer_ca = "chain.issuer-ca";
constexpr std::string_view chain_pathlen = "chain.pathlen";
constexpr std::string_view chain_depth = "chain.depth";
constexpr std::string_view chain_loop = "chain.loop";
constexpr std::string_view chain_anchor = "chain.anchor";
constexpr std::string_view kernel_direct_issuer = "kernel.direct-issuer";
constexpr std::string_view kernel_digsig = "kernel.digsig";
constexpr std::string_view kernel_ca_enforcement = "kernel.ca-enforcement";
}  // namespace id

// Links beyond the policy's depth limit that the search still walks, so that
// a chain one or two certificates too long is reported as such rather than
// as having no anchor at all.
constexpr int kExtraLinks = 3;
constexpr int kMaxLinkCap = 32;
constexpr std::size_t kLinkBudget = 4096;
// Problems quoted in one check's reason before "and N more".
constexpr std::size_t kReasonsShown = 3;

std::string utc(std::chrono::sys_seconds t) {
    const auto day = std::chrono::floor<std::chrono::days>(t);
    const std::chrono::year_month_day ymd{day};
    const std::chrono::hh_mm_ss hms{t - day};
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ",
                  static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()), static_cast<long>(hms.hours().count()),
                  static_cast<long>(hms.minutes().count()),
                  static_cast<long>(hms.seconds().count()));
    return buf;
}

std::string usage_names(std::uint16_t bits) {
    std::string out;
    for (std::uint16_t bit = 1; bit != 0 && bit <= key_usage::decipher_only; bit <<= 1) {
        if ((bits & bit) == 0) continue;
        if (!out.empty()) out += ", ";
        auto name = key_usage_name(bit);
        out += name.empty() ? "bit" + std::to_string(__builtin_ctz(bit)) : std::string(name);
    }
    return out.empty() ? "no usage" : out;
}

std::string keyring_list(const std::vector<LogicalKeyring>& keyrings) {
    if (keyrings.empty()) return "(none)";
    std::string out;
    for (auto k : keyrings) {
        if (!out.empty()) out += ", ";
        out += to_string(k);
    }
    return out;
}

// How a person writes the algorithm ("ECDSA", not "ecdsa").
std::string display(KeyAlgorithm a) {
    switch (a) {
        case KeyAlgorithm::Rsa:
            return "RSA";
        case KeyAlgorithm::RsaPss:
            return "RSA-PSS";
        case KeyAlgorithm::Ecdsa:
            return "ECDSA";
        case KeyAlgorithm::Ed25519:
            return "Ed25519";
        case KeyAlgorithm::Ed448:
            return "Ed448";
        case KeyAlgorithm::Dsa:
            return "DSA";
        case KeyAlgorithm::MlDsa44:
            return "ML-DSA-44";
        case KeyAlgorithm::MlDsa65:
            return "ML-DSA-65";
        case KeyAlgorithm::MlDsa87:
            return "ML-DSA-87";
        case KeyAlgorithm::Sm2:
            return "SM2";
        case KeyAlgorithm::Unknown:
            break;
    }
    return "unknown-algorithm";
}

// "a" or "an" before a word as it is read aloud ("an RSA key", "an ECDSA key").
std::string a_or_an(const std::string& word) {
    static constexpr std::string_view kVowelSounds = "AEFHILMNORSX8aeiou";
    if (!word.empty() && kVowelSounds.find(word.front()) != std::string_view::npos) return "an";
    return "a";
}

std::string display(HashAlgorithm h) {
    switch (h) {
        case HashAlgorithm::Md5:
            return "MD5";
        case HashAlgorithm::Sha1:
            return "SHA-1";
        case HashAlgorithm::Sha224:
            return "SHA-224";
        case HashAlgorithm::Sha256:
            return "SHA-256";
        case HashAlgorithm::Sha384:
            return "SHA-384";
        case HashAlgorithm::Sha512:
            return "SHA-512";
        case HashAlgorithm::Sha3_256:
            return "SHA3-256";
        case HashAlgorithm::Sha3_384:
            return "SHA3-384";
        case HashAlgorithm::Sha3_512:
            return "SHA3-512";
        case HashAlgorithm::Sm3:
            return "SM3";
        case HashAlgorithm::None:
            return "no separate hash";
        case HashAlgorithm::Unknown:
            break;
    }
    return "an unknown hash";
}

// The errno the kernel gives for a signature algorithm it cannot verify:
// ENOENT when it knows the algorithm but lacks the verifier (ECDSA without
// CONFIG_CRYPTO_ECDSA), ENOPKG when it does not know it at all.
std::string_view missing_algorithm_errno(KeyAlgorithm a) {
    switch (a) {
        case KeyAlgorithm::Rsa:
        case KeyAlgorithm::Ecdsa:
        case KeyAlgorithm::Sm2:
        case KeyAlgorithm::MlDsa44:
        case KeyAlgorithm::MlDsa65:
        case KeyAlgorithm::MlDsa87:
            return "ENOENT";
        default:
            return "ENOPKG";
    }
}

bool has_ca_flag(const CertificateInfo& info) {
    return info.basic_constraints_present && info.is_ca;
}

bool has_usage(const CertificateInfo& info, std::uint16_t bit) {
    return info.key_usage && (*info.key_usage & bit) != 0;
}

// What the kernel's restrict_link_by_ca (crypto/asymmetric_keys/restrict.c)
// wants of a key: the CA flag (basicConstraints CA:TRUE), keyCertSign in a
// present keyUsage, and under the _MAX variant no digitalSignature. Empty
// when satisfied, otherwise what is missing or extra.
std::string ca_rule_violation(const CertificateInfo& info, bool max) {
    if (!has_ca_flag(info)) {
        return info.basic_constraints_present ? "its basicConstraints say CA:FALSE"
                                              : "it has no basicConstraints extension";
    }
    if (!info.key_usage) return "it has no keyUsage extension, so no keyCertSign";
    if (!has_usage(info, key_usage::key_cert_sign))
        return "its keyUsage (" + usage_names(*info.key_usage) + ") lacks keyCertSign";
    if (max && has_usage(info, key_usage::digital_signature))
        return "its keyUsage asserts digitalSignature, which the CA-max rule forbids";
    return {};
}

// What restrict_link_by_digsig wants: digitalSignature in a present
// keyUsage, and neither the CA flag nor keyCertSign.
std::string digsig_rule_violation(const CertificateInfo& info) {
    if (!info.key_usage) return "it has no keyUsage extension";
    if (!has_usage(info, key_usage::digital_signature))
        return "its keyUsage (" + usage_names(*info.key_usage) + ") lacks digitalSignature";
    if (has_ca_flag(info)) return "it is a CA (basicConstraints CA:TRUE)";
    if (has_usage(info, key_usage::key_cert_sign)) return "its keyUsage asserts keyCertSign";
    return {};
}

// Extensions anchord recognises. A critical extension outside this set
// makes a certificate unusable (RFC 5280 4.2). Name constraints and
// certificate policies are recognised but not enforced: they constrain
// names and policies, which kernel keyrings do not use (docs/checks.md).
bool recognised_extension(int nid) {
    switch (nid) {
        case NID_basic_constraints:
        case NID_key_usage:
        case NID_ext_key_usage:
        case NID_subject_key_identifier:
        case NID_authority_key_identifier:
        case NID_subject_alt_name:
        case NID_issuer_alt_name:
        case NID_certificate_policies:
        case NID_policy_mappings:
        case NID_policy_constraints:
        case NID_inhibit_any_policy:
        case NID_name_constraints:
        case NID_crl_distribution_points:
        case NID_freshest_crl:
        case NID_info_access:
        case NID_sinfo_access:
        case NID_subject_directory_attributes:
            return true;
        default:
            return false;
    }
}

std::string extension_name(const ASN1_OBJECT* obj) {
    int nid = OBJ_obj2nid(obj);
    if (nid != NID_undef) return OBJ_nid2sn(nid);
    char buf[128];
    OBJ_obj2txt(buf, sizeof buf, obj, 1);
    return buf;
}

enum class Place : std::uint8_t { Enrollee, Intermediate, Anchor };

class Evaluation {
  public:
    Evaluation(const Certificate& certificate, LogicalKeyring target, const Policy& policy,
               const TrustSnapshot& snapshot, const KernelProfile& kernel,
               std::chrono::system_clock::time_point now)
        : certificate_(certificate),
          info_(certificate.info()),
          target_(target),
          target_name_(to_string(target)),
          policy_(policy),
          snapshot_(snapshot),
          kernel_(kernel),
          now_(std::chrono::floor<std::chrono::seconds>(now)) {}

    Verdict run();

  private:
    void add(std::string_view check, Outcome outcome, std::string reason) {
        verdict_.checks.push_back(Check{std::string(check), outcome, std::move(reason)});
    }
    // Reports one check from the problems filed under it: fail if any
    // failed, warn if any warned, else pass with `pass_reason`.
    void report(std::string_view check, const std::string& pass_reason) {
        const auto it = problems_.find(check);
        if (it == problems_.end() || it->second.empty()) {
            add(check, Outcome::Pass, pass_reason);
            return;
        }
        bool failed = false;
        for (const auto& p : it->second) failed = failed || p.severity == Severity::Fail;
        // One line for a person: the first few problems, then how many more.
        std::string reason;
        std::size_t shown = 0;
        std::size_t more = 0;
        for (const auto& p : it->second) {
            if (failed && p.severity != Severity::Fail) continue;
            if (shown == kReasonsShown) {
                ++more;
                continue;
            }
            if (!reason.empty()) reason += "; ";
            reason += p.reason;
            ++shown;
        }
        if (more > 0) reason += "; and " + std::to_string(more) + " more";
        add(check, failed ? Outcome::Fail : Outcome::Warn, std::move(reason));
    }

    bool guarded() const { return !snapshot_.unguarded.contains(target_); }
    // Whether the kernel, looking for the enrollee's issuer, would find this
    // node: only keys in the keyrings the target trusts, not pinned issuers
    // held elsewhere.
    bool kernel_consults(const ChainNode& node) const {
        const auto& trusted = keyring_->trusted_by;
        return node.keyring &&
               std::find(trusted.begin(), trusted.end(), *node.keyring) != trusted.end();
    }

    void keyring_checks();
    void deny_only_checks();
    void role_checks();
    void usage_checks();
    void kernel_algorithm_check();
    void policy_ca_enforcement_check();
    void kernel_rule_checks();
    void build_chain();
    void report_chain_checks();
    void report_deny_checks();
    void report_certificate_checks();

    std::vector<Problem> certificate_problems(const ChainNode& node, Place place) const;
    void deny_problems(const ChainNode& node, Place place, std::vector<Problem>& out) const;
    void validity_problems(const ChainNode& node, std::vector<Problem>& out) const;
    void profile_problems(const ChainNode& node, Place place, std::vector<Problem>& out) const;
    void algorithm_problems(const ChainNode& node, std::vector<Problem>& out) const;
    void hash_problems(const ChainNode& node, std::vector<Problem>& out) const;
    std::vector<Problem> link_problems(std::span<const std::size_t> path, std::size_t issuer);

    std::string where(const ChainNode& node) const;

    const Certificate& certificate_;
    const CertificateInfo& info_;
    LogicalKeyring target_;
    std::string target_name_;
    const Policy& policy_;
    const TrustSnapshot& snapshot_;
    const KernelProfile& kernel_;
    std::chrono::sys_seconds now_;
    const KeyringPolicy* keyring_ = nullptr;

    std::optional<ChainGraph> graph_;
    detail::ChainSearchResult search_;
    std::map<std::string_view, std::vector<Problem>> problems_;
    std::map<std::size_t, std::vector<Problem>> own_problems_;  // by node, for issuers
    Verdict verdict_;
};

std::string Evaluation::where(const ChainNode& node) const {
    if (node.pinned) {
        std::string held = node.keyring ? " (held in " + std::string(to_string(*node.keyring)) + ")"
                                        : " (among the supplied intermediates)";
        return "pinned by the policy of '" + target_name_ + "'" + held;
    }
    if (node.anchor && node.keyring) return "in " + std::string(to_string(*node.keyring));
    if (node.keyring) {
        return "in " + std::string(to_string(*node.keyring)) + ", a keyring '" + target_name_ +
               "' does not trust (a link, not an anchor)";
    }
    return "among the supplied intermediates";
}

Verdict Evaluation::run() {
    keyring_checks();
    if (keyring_ == nullptr) {
        deny_only_checks();
    } else {
        build_chain();
        report_deny_checks();
        role_checks();
        policy_ca_enforcement_check();
        usage_checks();
        report_certificate_checks();
        kernel_algorithm_check();
        report_chain_checks();
        kernel_rule_checks();
    }
    verdict_.accepted = std::none_of(verdict_.checks.begin(), verdict_.checks.end(),
                                     [](const Check& c) { return c.outcome == Outcome::Fail; });
    return std::move(verdict_);
}

void Evaluation::keyring_checks() {
    keyring_ = policy_.find(target_);
    if (keyring_ == nullptr) {
        add(id::keyring_known, Outcome::Fail,
            "the policy has no entry for keyring '" + target_name_ +
                "': nothing may be enrolled there");
        return;
    }
    add(id::keyring_known, Outcome::Pass,
        "the policy has an entry for '" + target_name_ + "' (kernel keyring '" +
            keyring_->kernel_keyring + "', role " + std::string(to_string(keyring_->role)) + ")");
    if (keyring_->enrollable) {
        add(id::keyring_enrollable, Outcome::Pass,
            "the policy lets anchord enroll into '" + target_name_ + "'");
    } else {
        add(id::keyring_enrollable, Outcome::Fail,
            "the policy says anchord never enrolls into '" + target_name_ +
                "' (enrollable: false); only the kernel fills it");
    }
    if (guarded()) {
        add(id::keyring_unguarded, Outcome::Pass,
            "the kernel guards '" + keyring_->kernel_keyring +
                "' with a link restriction of its own");
    } else {
        add(id::keyring_unguarded, Outcome::Warn,
            "'" + keyring_->kernel_keyring +
                "' has no kernel restriction: the kernel checks nothing in it; anchord's policy is "
                "the only gate");
    }
}

void Evaluation::deny_only_checks() {
    ChainNode self;
    self.certificate = &certificate_;
    self.label = detail::certificate_label(certificate_);
    std::vector<Problem> found;
    deny_problems(self, Place::Enrollee, found);
    for (const auto& p : found) problems_[p.check].push_back(p);
    report(id::deny_fingerprint,
           info_.fingerprint.to_string() + " is not on the policy's denylist");
    report(id::deny_tbs,
           "TBS hash sha256:" + info_.tbs_sha256.hex() + " is not on the policy's denylist");
    report(id::deny_kernel_blacklist,
           "the kernel's .blacklist holds neither tbs:" + info_.tbs_sha256.hex() +
               " nor bin:" + info_.fingerprint.digest.hex());
}

void Evaluation::role_checks() {
    const bool ca = has_ca_flag(info_);
    if (keyring_->role == KeyringRole::Signing) {
        if (!ca) {
            add(id::role_signing, Outcome::Pass,
                "a leaf certificate (no basicConstraints CA:TRUE) for the signing keyring '" +
                    target_name_ + "'");
        } else if (keyring_->allow_ca) {
            add(id::role_signing, Outcome::Pass,
                "a CA certificate in the signing keyring '" + target_name_ +
                    "', which the policy allows (allow_ca: true)");
        } else {
            add(id::role_signing, Outcome::Fail,
                "a CA certificate (basicConstraints CA:TRUE) cannot go into the signing keyring '" +
                    target_name_ +
                    "' (allow_ca: false): enroll it into a ca keyring such as secondary");
        }
        add(id::ca_basic_constraints, Outcome::Skip,
            "'" + target_name_ + "' is a signing keyring: no CA is required");
        return;
    }
    if (ca) {
        add(id::role_ca, Outcome::Pass,
            "a CA certificate (basicConstraints CA:TRUE) for the ca keyring '" + target_name_ +
                "'");
    } else if (keyring_->allow_leaf) {
        add(id::role_ca, Outcome::Pass,
            "a leaf certificate in the ca keyring '" + target_name_ +
                "', which the policy allows (allow_leaf: true)");
    } else {
        add(id::role_ca, Outcome::Fail,
            "a leaf certificate (no basicConstraints CA:TRUE) cannot go into the ca keyring '" +
                target_name_ +
                "' (allow_leaf: false): enroll it into a signing keyring such as ima");
    }
    // The CA's own extension, as RFC 5280 4.2.1.9 wants it on a CA.
    if (!ca && keyring_->allow_leaf) {
        add(id::ca_basic_constraints, Outcome::Skip,
            "a leaf certificate, which '" + target_name_ + "' allows (allow_leaf: true)");
    } else if (!info_.basic_constraints_present) {
        add(id::ca_basic_constraints, Outcome::Fail,
            "no basicConstraints extension: a CA certificate must carry basicConstraints CA:TRUE");
    } else if (!info_.is_ca) {
        add(id::ca_basic_constraints, Outcome::Fail,
            "basicConstraints says CA:FALSE: '" + target_name_ + "' holds CA certificates");
    } else {
        std::string reason = "basicConstraints CA:TRUE";
        reason += info_.path_len ? ", pathLenConstraint " + std::to_string(*info_.path_len)
                                 : ", no pathLenConstraint";
        add(id::ca_basic_constraints, Outcome::Pass, reason);
    }
}

void Evaluation::usage_checks() {
    const std::uint16_t required = keyring_->required_usage;
    const std::uint16_t forbidden = keyring_->forbidden_usage;
    const std::uint16_t present = info_.key_usage.value_or(0);
    const std::string have =
        info_.key_usage ? "keyUsage (" + usage_names(present) + ")" : "no keyUsage extension";

    if (required == 0) {
        add(id::usage_required, Outcome::Pass, "'" + target_name_ + "' requires no key usage");
    } else if (!info_.key_usage) {
        add(id::usage_required, Outcome::Fail,
            "no keyUsage extension; '" + target_name_ + "' requires " + usage_names(required));
    } else if ((present & required) != required) {
        add(id::usage_required, Outcome::Fail,
            have + " lacks " + usage_names(required & ~present) + ", which '" + target_name_ +
                "' requires");
    } else {
        add(id::usage_required, Outcome::Pass,
            have + " has " + usage_names(required) + ", as '" + target_name_ + "' requires");
    }

    if (forbidden == 0) {
        add(id::usage_forbidden, Outcome::Pass, "'" + target_name_ + "' forbids no key usage");
    } else if ((present & forbidden) != 0) {
        add(id::usage_forbidden, Outcome::Fail,
            have + " asserts " + usage_names(present & forbidden) + ", which '" + target_name_ +
                "' forbids");
    } else {
        add(id::usage_forbidden, Outcome::Pass,
            have + " asserts none of " + usage_names(forbidden) + ", which '" + target_name_ +
                "' forbids");
    }

    // A CA enrolled into a ca keyring vouches for others, which its keyUsage
    // must allow; the issuers' part of this check is filed by the chain walk.
    if (keyring_->role == KeyringRole::Ca && has_ca_flag(info_) &&
        !has_usage(info_, key_usage::key_cert_sign)) {
        problems_[id::usage_key_cert_sign].push_back(
            {id::usage_key_cert_sign, Severity::Fail,
             "the CA certificate has " + have +
                 " without keyCertSign, so it may not sign the "
                 "certificates '" +
                 target_name_ + "' would let it vouch for"});
    }
}

void Evaluation::deny_problems(const ChainNode& node, Place place,
                               std::vector<Problem>& out) const {
    if (node.certificate == nullptr) return;
    const auto& info = node.certificate->info();
    const std::string who = place == Place::Enrollee ? "the certificate" : "issuer " + node.label;
    if (policy_.deny.fingerprints.contains(info.fingerprint)) {
        out.push_back(
            {id::deny_fingerprint, Severity::Fail,
             who + " is on the policy's denylist (" + info.fingerprint.to_string() + ")"});
    }
    if (policy_.deny.tbs_hashes.contains(info.tbs_sha256)) {
        out.push_back({id::deny_tbs, Severity::Fail,
                       who + " is on the policy's denylist by its TBS hash (sha256:" +
                           info.tbs_sha256.hex() + ")"});
    }
    if (snapshot_.kernel_blacklist_tbs.contains(info.tbs_sha256)) {
        out.push_back({id::deny_kernel_blacklist, Severity::Fail,
                       "the kernel's .blacklist holds tbs:" + info.tbs_sha256.hex() + ", " + who +
                           "'s TBS hash: the kernel would refuse it with EKEYREJECTED"});
    }
    if (snapshot_.kernel_blacklist_bin.contains(info.fingerprint.digest)) {
        // The kernel matches bin: hashes against signed files, not against
        // certificates it parses; the entry still says its owner revoked
        // exactly these bytes, so anchord refuses them.
        out.push_back({id::deny_kernel_blacklist, Severity::Fail,
                       "the kernel's .blacklist holds bin:" + info.fingerprint.digest.hex() +
                           ", the SHA-256 of " + who +
                           "'s DER: the kernel's blacklist revoked these bytes"});
    }
}

void Evaluation::validity_problems(const ChainNode& node, std::vector<Problem>& out) const {
    if (node.certificate == nullptr || !keyring_->enforce_validity) return;
    const auto& info = node.certificate->info();
    const auto skew = keyring_->clock_skew;
    const std::string at =
        " (checked at " + utc(now_) + ", clock skew " + std::to_string(skew.count()) + " s)";
    // X.509 times have whole seconds and notAfter is inclusive (RFC 5280
    // 4.1.2.5), so the comparison is on whole seconds.
    if (now_ + skew < info.not_before) {
        out.push_back({id::validity_not_yet_valid, Severity::Fail,
                       node.label + " is not valid before " + utc(info.not_before) + at});
    }
    if (now_ - skew > info.not_after) {
        out.push_back({id::validity_not_expired, Severity::Fail,
                       node.label + " expired at " + utc(info.not_after) + at});
    }
}

void Evaluation::profile_problems(const ChainNode& node, Place place,
                                  std::vector<Problem>& out) const {
    if (node.certificate == nullptr) return;
    X509* x = node.certificate->x509();
    const auto& info = node.certificate->info();
    const bool issuer = place != Place::Enrollee;
    const std::string& who = node.label;

    // RFC 5280 4.1.2.2: a positive integer of at most 20 octets. Not asked
    // of an anchor: it is trusted as the keyring holds it, and old roots
    // still in use break the rule (Starfield's G2 root has serial 0).
    const ASN1_INTEGER* serial = place == Place::Anchor ? nullptr : X509_get0_serialNumber(x);
    if (serial != nullptr) {
        ossl::BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
        if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER) {
            out.push_back({id::x509_serial, Severity::Fail, who + " has a negative serial number"});
        } else if (bn && BN_is_zero(bn.get())) {
            out.push_back({id::x509_serial, Severity::Fail, who + " has serial number 0"});
        } else if (bn) {
            // The DER content octets: the magnitude plus a leading zero when
            // its top bit is set.
            const int octets = BN_num_bytes(bn.get()) + (BN_num_bits(bn.get()) % 8 == 0 ? 1 : 0);
            if (octets > 20) {
                out.push_back({id::x509_serial, Severity::Fail,
                               who + " has a serial number of " + std::to_string(octets) +
                                   " octets; RFC 5280 allows at most 20"});
            }
        }
    }

    // RFC 5280 4.1.2.4 and 4.1.2.6: a non-empty issuer; a CA's subject too.
    if (X509_NAME_entry_count(X509_get_issuer_name(x)) == 0) {
        out.push_back({id::x509_names, Severity::Fail, who + " has an empty issuer name"});
    }
    if ((issuer || has_ca_flag(info)) && X509_NAME_entry_count(X509_get_subject_name(x)) == 0) {
        out.push_back({id::x509_names, Severity::Fail,
                       "the CA certificate " + who + " has an empty subject name"});
    }

    // RFC 5280 4.1.1.2: the signatureAlgorithm outside equals the one signed.
    {
        const ASN1_BIT_STRING* sig = nullptr;
        const X509_ALGOR* outer = nullptr;
        X509_get0_signature(&sig, &outer, x);
        const X509_ALGOR* inner = X509_get0_tbs_sigalg(x);
        if (outer == nullptr || inner == nullptr || X509_ALGOR_cmp(outer, inner) != 0) {
            out.push_back(
                {id::x509_signature_algorithm, Severity::Fail,
                 who + "'s signatureAlgorithm differs from the one inside its signed part"});
        }
    }

    // RFC 5280 4.2: each extension once; no critical extension we do not
    // recognise; AKI, SKI, AIA and SIA non-critical; basicConstraints
    // critical in a CA that signs certificates.
    {
        std::set<std::string> seen;
        const int count = X509_get_ext_count(x);
        for (int i = 0; i < count; ++i) {
            X509_EXTENSION* ext = X509_get_ext(x, i);
            const ASN1_OBJECT* obj = X509_EXTENSION_get_object(ext);
            const std::string name = extension_name(obj);
            const int nid = OBJ_obj2nid(obj);
            const bool critical = X509_EXTENSION_get_critical(ext) != 0;
            if (!seen.insert(name).second) {
                out.push_back({id::x509_extensions, Severity::Fail,
                               who + " has the " + name + " extension more than once"});
            }
            if (critical && !recognised_extension(nid)) {
                out.push_back(
                    {id::x509_extensions, Severity::Fail,
                     who + " has a critical extension anchord does not recognise (" + name + ")"});
            }
            if (critical &&
                (nid == NID_authority_key_identifier || nid == NID_subject_key_identifier ||
                 nid == NID_info_access || nid == NID_sinfo_access)) {
                out.push_back(
                    {id::x509_extension_criticality, Severity::Fail,
                     who + " marks " + name + " critical; RFC 5280 requires it non-critical"});
            }
            if (!critical && nid == NID_basic_constraints && issuer && has_ca_flag(info)) {
                out.push_back({id::x509_extension_criticality, Severity::Fail,
                               "the issuing CA " + who +
                                   " marks basicConstraints non-critical; RFC 5280 4.2.1.9 "
                                   "requires it critical"});
            }
        }
    }

    // RFC 5280 4.2.1.1 and 4.2.1.2: key identifiers, which chain building
    // relies on.
    // An anchor is where the walk stops, so its issuer is never looked for.
    if (!info.authority_key_id && !node.self_signed && place != Place::Anchor) {
        out.push_back({id::x509_key_identifiers, Severity::Fail,
                       who + " has no authority key identifier and is not self-signed"});
    }
    if (!info.subject_key_id && (issuer || has_ca_flag(info))) {
        out.push_back({id::x509_key_identifiers, Severity::Fail,
                       "the CA certificate " + who + " has no subject key identifier"});
    }

    // RFC 5280 4.2.1.3 and 4.2.1.9: keyCertSign only on a CA.
    if (has_usage(info, key_usage::key_cert_sign) && !has_ca_flag(info)) {
        out.push_back({id::x509_ca_consistency, Severity::Fail,
                       who + " asserts keyCertSign but is not a CA (no basicConstraints CA:TRUE)"});
    }

    // RFC 5480 2.1.1: EC keys name their curve; explicit parameters hide
    // what the curve is (CVE-2020-0601).
    {
        ASN1_OBJECT* alg = nullptr;
        X509_ALGOR* params = nullptr;
        if (X509_PUBKEY_get0_param(&alg, nullptr, nullptr, &params, X509_get_X509_PUBKEY(x)) == 1 &&
            OBJ_obj2nid(alg) == NID_X9_62_id_ecPublicKey) {
            int ptype = V_ASN1_UNDEF;
            X509_ALGOR_get0(nullptr, &ptype, nullptr, params);
            if (ptype != V_ASN1_OBJECT) {
                out.push_back({id::x509_named_curve, Severity::Fail,
                               who + "'s EC key gives explicit curve parameters instead of a "
                                     "named curve"});
            }
        }
    }
}

void Evaluation::algorithm_problems(const ChainNode& node, std::vector<Problem>& out) const {
    if (node.certificate == nullptr || keyring_->algorithms.empty()) return;
    const auto& key = node.certificate->info().public_key;
    const auto& rules = keyring_->algorithms;
    auto rule = std::find_if(rules.begin(), rules.end(),
                             [&](const AlgorithmRule& r) { return r.algorithm == key.algorithm; });
    if (rule == rules.end()) {
        std::string allowed;
        for (const auto& r : rules) allowed += (allowed.empty() ? "" : ", ") + display(r.algorithm);
        out.push_back({id::algo_key_type, Severity::Fail,
                       node.label + " has " + a_or_an(display(key.algorithm)) + " " +
                           display(key.algorithm) + " key; '" + target_name_ + "' allows " +
                           allowed});
        return;
    }
    if (key.algorithm == KeyAlgorithm::Ecdsa && !rule->curves.empty() &&
        std::find(rule->curves.begin(), rule->curves.end(), key.curve) == rule->curves.end()) {
        std::string allowed;
        for (const auto& c : rule->curves) allowed += (allowed.empty() ? "" : ", ") + c;
        out.push_back({id::algo_key_type, Severity::Fail,
                       node.label + " has an ECDSA key on curve '" +
                           (key.curve.empty() ? std::string("unknown") : key.curve) + "'; '" +
                           target_name_ + "' allows " + allowed});
    }
    if (rule->min_bits > 0 && key.bits < rule->min_bits) {
        out.push_back({id::algo_key_size, Severity::Fail,
                       node.label + " has " + a_or_an(std::to_string(key.bits)) + " " +
                           std::to_string(key.bits) + "-bit " + display(key.algorithm) + " key; '" +
                           target_name_ + "' wants at least " + std::to_string(rule->min_bits) +
                           " bits"});
    }
}

void Evaluation::hash_problems(const ChainNode& node, std::vector<Problem>& out) const {
    if (node.certificate == nullptr) return;
    const auto& sig = node.certificate->info().signature;
    const HashAlgorithm h = sig.hash;
    if (h == HashAlgorithm::None) return;  // a pure scheme (Ed25519, ML-DSA) hashes internally
    const auto& allowed = keyring_->hashes;
    const bool listed = std::find(allowed.begin(), allowed.end(), h) != allowed.end();
    const bool weak = h == HashAlgorithm::Md5 || h == HashAlgorithm::Sha1;
    const std::string what = node.label + " is signed with " + sig.name + " (" + display(h) + ")";
    if (weak && !listed) {
        out.push_back({id::hash_allowed, Severity::Fail,
                       what + ": " + display(h) +
                           " is not collision resistant (chosen-prefix collisions are practical), "
                           "so a signature over it proves nothing"});
    } else if (weak) {
        out.push_back({id::hash_allowed, Severity::Warn,
                       what + ", which the policy allows although " + display(h) +
                           " is not collision resistant"});
    } else if (h == HashAlgorithm::Unknown && !listed) {
        out.push_back(
            {id::hash_allowed, Severity::Fail,
             node.label + " is signed with " + sig.name + ", whose hash anchord does not know"});
    } else if (!allowed.empty() && !listed) {
        std::string names;
        for (auto a : allowed) names += (names.empty() ? "" : ", ") + display(a);
        out.push_back(
            {id::hash_allowed, Severity::Fail, what + "; '" + target_name_ + "' allows " + names});
    }
}

std::vector<Problem> Evaluation::certificate_problems(const ChainNode& node, Place place) const {
    std::vector<Problem> out;
    deny_problems(node, place, out);
    validity_problems(node, out);
    profile_problems(node, place, out);
    // What the enrollee and the intermediates are signed with and by is the
    // policy's business; an anchor is trusted as the keyring holds it.
    if (place != Place::Anchor) {
        algorithm_problems(node, out);
        hash_problems(node, out);
    }
    return out;
}

std::vector<Problem> Evaluation::link_problems(std::span<const std::size_t> path,
                                               std::size_t issuer_index) {
    std::vector<Problem> out;
    const ChainNode& child = graph_->node(path.back());
    const ChainNode& issuer = graph_->node(issuer_index);
    const std::size_t links = path.size();  // after this link

    if (issuer.certificate != nullptr) {
        const auto& sig = graph_->verify(path.back(), issuer_index);
        if (!sig.verified) {
            out.push_back({id::chain_signature, Severity::Fail,
                           "the signature on " + child.label + " does not verify with the key of " +
                               issuer.label + ": " + sig.detail});
        }
        const auto& info = issuer.certificate->info();
        if (!info.basic_constraints_present) {
            out.push_back({id::chain_issuer_ca, Severity::Fail,
                           "issuer " + issuer.label +
                               " has no basicConstraints extension, so it is not a CA"});
        } else if (!info.is_ca) {
            out.push_back({id::chain_issuer_ca, Severity::Fail,
                           "issuer " + issuer.label + " says CA:FALSE in its basicConstraints"});
        }
        if (info.key_usage && !has_usage(info, key_usage::key_cert_sign)) {
            out.push_back({id::usage_key_cert_sign, Severity::Fail,
                           "issuer " + issuer.label + " has keyUsage (" +
                               usage_names(*info.key_usage) +
                               ") without keyCertSign, so it may not sign certificates"});
        }
        if (info.path_len) {
            // RFC 5280 6.1.4 (l)-(m): the CA certificates between the
            // enrollee and this issuer, not counting self-issued ones.
            int below = 0;
            for (std::size_t i = 1; i < path.size(); ++i) {
                below += graph_->node(path[i]).self_issued ? 0 : 1;
            }
            if (below > *info.path_len) {
                out.push_back({id::chain_pathlen, Severity::Fail,
                               "issuer " + issuer.label + " has pathLenConstraint " +
                                   std::to_string(*info.path_len) + " but " +
                                   std::to_string(below) + " CA certificate(s) below it"});
            }
        }
        // A certificate's own problems do not depend on the path: worked out
        // once per certificate, however often the search meets it.
        auto cached = own_problems_.find(issuer_index);
        if (cached == own_problems_.end()) {
            const Place place = issuer.anchor ? Place::Anchor : Place::Intermediate;
            cached = own_problems_.emplace(issuer_index, certificate_problems(issuer, place)).first;
        }
        out.insert(out.end(), cached->second.begin(), cached->second.end());
    }
    if (static_cast<int>(links) == std::max(keyring_->max_chain_depth, 0) + 1) {
        out.push_back({id::chain_depth, Severity::Fail,
                       "the chain needs more than " + std::to_string(keyring_->max_chain_depth) +
                           " certificate(s) above the enrollee (max_chain_depth " +
                           std::to_string(keyring_->max_chain_depth) + ")"});
    }
    if (path.size() == 1 && guarded() && !kernel_consults(issuer)) {
        out.push_back({id::kernel_direct_issuer, Severity::Fail,
                       "the kernel links a certificate into '" + keyring_->kernel_keyring +
                           "' only when its direct issuer is in a keyring it trusts; issuer " +
                           issuer.label + " is " + where(issuer) +
                           ": the kernel would answer ENOKEY"});
    }
    return out;
}

void Evaluation::build_chain() {
    graph_.emplace(detail::collect_nodes(certificate_, *keyring_, snapshot_));
    detail::SearchLimits limits;
    limits.link_cap =
        std::clamp(std::max(keyring_->max_chain_depth, 1) + kExtraLinks, 1, kMaxLinkCap);
    limits.link_budget = kLinkBudget;
    search_ = graph_->search([this](std::span<const std::size_t> path,
                                    std::size_t issuer) { return link_problems(path, issuer); },
                             limits);

    // File the problems of the path found: the enrollee's own, then each link's.
    for (auto& p : certificate_problems(graph_->node(0), Place::Enrollee)) {
        problems_[p.check].push_back(std::move(p));
    }
    const auto& path = search_.path;
    for (std::size_t i = 1; i < path.size(); ++i) {
        auto prefix = std::span<const std::size_t>(path.data(), i);
        for (auto& p : link_problems(prefix, path[i])) problems_[p.check].push_back(std::move(p));
    }
    for (std::size_t index : path) {
        if (const auto* c = graph_->node(index).certificate) {
            verdict_.chain.push_back(c->info().fingerprint);
        }
    }
    if (search_.complete && path.size() > 1) {
        if (const auto* key = graph_->node(path.back()).opaque)
            verdict_.opaque_anchor = key->serial;
    }
}

void Evaluation::report_deny_checks() {
    const std::size_t above = search_.path.size() > 0 ? search_.path.size() - 1 : 0;
    const std::string and_chain =
        above == 0   ? ""
        : above == 1 ? " (nor is the certificate above it)"
                     : " (nor is any of the " + std::to_string(above) + " certificates above it)";
    report(id::deny_fingerprint,
           info_.fingerprint.to_string() + " is not on the policy's denylist" + and_chain);
    report(id::deny_tbs, "TBS hash sha256:" + info_.tbs_sha256.hex() +
                             " is not on the policy's denylist" + and_chain);
    report(id::deny_kernel_blacklist,
           "the kernel's .blacklist holds neither tbs:" + info_.tbs_sha256.hex() +
               " nor bin:" + info_.fingerprint.digest.hex() + and_chain);
}

void Evaluation::report_certificate_checks() {
    const std::size_t above = search_.path.size() > 0 ? search_.path.size() - 1 : 0;
    if (!keyring_->algorithms.empty()) {
        const auto& key = info_.public_key;
        std::string curve = key.curve.empty() ? "" : " on " + key.curve;
        report(id::algo_key_type, a_or_an(display(key.algorithm)) + " " + display(key.algorithm) +
                                      " key" + curve + ", which '" + target_name_ + "' allows");
        report(id::algo_key_size, a_or_an(std::to_string(key.bits)) + " " +
                                      std::to_string(key.bits) + "-bit " + display(key.algorithm) +
                                      " key, large enough for '" + target_name_ + "'");
    } else {
        report(id::algo_key_type, "'" + target_name_ + "' allows any key type");
        report(id::algo_key_size, "'" + target_name_ + "' sets no minimum key size");
    }
    report(id::hash_allowed, "signed with " + info_.signature.name + " (" +
                                 display(info_.signature.hash) + "), which '" + target_name_ +
                                 "' allows");

    if (!keyring_->enforce_validity) {
        const std::string why =
            "'" + target_name_ + "' does not enforce validity dates (enforce_validity: false)";
        add(id::validity_not_yet_valid, Outcome::Skip, why);
        add(id::validity_not_expired, Outcome::Skip, why);
    } else {
        const std::string at = " (checked at " + utc(now_) + ", clock skew " +
                               std::to_string(keyring_->clock_skew.count()) + " s)";
        const std::string chain_too = above == 0 ? "" : "; the certificates above it are valid too";
        report(id::validity_not_yet_valid, "valid since " + utc(info_.not_before) + chain_too + at);
        report(id::validity_not_expired, "valid until " + utc(info_.not_after) + chain_too + at);
    }

    const std::string every = above == 0
                                  ? "the certificate"
                                  : "each of the " + std::to_string(above + 1) + " certificates";
    report(id::x509_serial, every + " has a positive serial number of at most 20 octets");
    report(id::x509_names, every + " has a non-empty issuer, and each CA a non-empty subject");
    report(id::x509_signature_algorithm,
           every + " names the same signature algorithm inside and outside its signed part");
    report(id::x509_extensions,
           every + " has each extension once and no critical extension anchord does not recognise");
    report(id::x509_extension_criticality,
           every +
               " marks its key identifiers and access information non-critical, and each "
               "issuing CA its basicConstraints critical");
    report(id::x509_key_identifiers,
           every + " names its issuer's key (or is self-signed), and each CA its own key");
    report(id::x509_ca_consistency, every + " asserts keyCertSign only if it is a CA");
    report(id::x509_named_curve, "no EC key in the chain uses explicit curve parameters");
}

void Evaluation::kernel_algorithm_check() {
    if (kernel_.verifiable.empty()) {
        add(id::kernel_algorithm, Outcome::Skip,
            "the kernel profile does not say which signature algorithms this kernel verifies");
        return;
    }
    const KeyAlgorithm signed_with = info_.signature.key_algorithm;
    const KeyAlgorithm key = info_.public_key.algorithm;
    std::vector<std::pair<Outcome, std::string>> found;
    if (!kernel_.verifiable.contains(signed_with)) {
        const std::string cannot =
            "this kernel cannot verify " + display(signed_with) + " signatures";
        if (info_.self_signed) {
            found.emplace_back(Outcome::Fail,
                               cannot +
                                   "; it checks a self-signed certificate's own signature "
                                   "when it parses it and would refuse it with " +
                                   std::string(missing_algorithm_errno(signed_with)));
        } else if (guarded()) {
            found.emplace_back(Outcome::Fail,
                               cannot + "; it would refuse the link with " +
                                   std::string(missing_algorithm_errno(signed_with)));
        } else {
            found.emplace_back(Outcome::Warn,
                               cannot + "; '" + keyring_->kernel_keyring +
                                   "' has no kernel restriction, so the kernel will not check "
                                   "this link");
        }
    }
    if (!kernel_.verifiable.contains(key)) {
        const std::string use = keyring_->role == KeyringRole::Signing
                                    ? "signatures made with this " + display(key) + " key"
                                    : "certificates this " + display(key) + " key signs";
        found.emplace_back(Outcome::Warn, "this kernel cannot verify " + use);
    }
    if (found.empty()) {
        add(id::kernel_algorithm, Outcome::Pass,
            "this kernel verifies " + display(signed_with) + " signatures (the issuer's) and " +
                display(key) + " ones (this key's)");
        return;
    }
    const bool failed = std::any_of(found.begin(), found.end(),
                                    [](const auto& f) { return f.first == Outcome::Fail; });
    std::string reason;
    for (const auto& [outcome, text] : found) reason += (reason.empty() ? "" : "; ") + text;
    add(id::kernel_algorithm, failed ? Outcome::Fail : Outcome::Warn, reason);
}

void Evaluation::report_chain_checks() {
    const auto& path = search_.path;
    const ChainNode& last = graph_->node(path.back());
    const std::string trusted = keyring_list(keyring_->trusted_by);

    // chain.issuer-found
    if (path.size() == 1 && search_.complete) {
        add(id::chain_issuer_found, Outcome::Pass,
            "self-signed and itself " + where(graph_->node(0)) + ": it vouches for itself");
    } else if (path.size() == 1) {
        std::string name = "'" + info_.issuer + "'";
        std::string akid =
            info_.authority_key_id ? " with key identifier " + to_hex(*info_.authority_key_id) : "";
        std::string why =
            info_.self_signed
                ? "it is self-signed, and no keyring '" + target_name_ + "' trusts holds it"
                : "no certificate or key in " + trusted + " (the keyrings '" + target_name_ +
                      "' trusts), elsewhere in the snapshot or among the supplied "
                      "intermediates has subject " +
                      name + akid;
        add(id::chain_issuer_found, Outcome::Fail, why);
    } else {
        const ChainNode& issuer = graph_->node(path[1]);
        if (issuer.opaque != nullptr) {
            add(id::chain_issuer_found, Outcome::Pass,
                "issued by " + issuer.label + " " + where(issuer) +
                    ", matched by key identifier only; the signature could not be checked by "
                    "anchord, the kernel will");
        } else {
            add(id::chain_issuer_found, Outcome::Pass,
                "issued by " + issuer.label + ", " + where(issuer));
        }
    }

    // chain.signature
    {
        std::size_t verified = 0;
        std::size_t opaque = 0;
        for (std::size_t i = 1; i < path.size(); ++i) {
            if (graph_->node(path[i]).certificate != nullptr) {
                ++verified;
            } else {
                ++opaque;
            }
        }
        if (path.size() == 1 && search_.complete) {
            report(id::chain_signature, "self-signed: its own key verifies its signature");
        } else if (path.size() == 1) {
            add(id::chain_signature, Outcome::Skip,
                "no issuer was found to check the signature with");
        } else if (verified == 0) {
            add(id::chain_signature, Outcome::Skip,
                "the issuer is " + graph_->node(path[1]).label +
                    ", whose certificate cannot be read back: only the kernel can check the "
                    "signature");
        } else {
            std::string note =
                opaque == 0 ? "" : "; the kernel key at the end is left to the kernel";
            report(id::chain_signature,
                   std::to_string(verified) + " signature(s) verified with OpenSSL" + note);
        }
    }

    const bool any_issuer = path.size() > 1;
    if (any_issuer) {
        report(id::chain_issuer_ca, "every issuer in the chain is a CA (basicConstraints CA:TRUE)");
        report(id::chain_pathlen, "no issuer's pathLenConstraint is exceeded");
    } else {
        add(id::chain_issuer_ca, Outcome::Skip, "no issuer in the chain");
        add(id::chain_pathlen, Outcome::Skip, "no issuer in the chain");
    }
    report(id::usage_key_cert_sign,
           any_issuer ? "every issuer with a keyUsage extension asserts keyCertSign"
                      : "no issuer in the chain to sign certificates");

    // chain.depth
    const std::size_t links = path.size() - 1;
    if (search_.end == WalkEnd::DepthLimit && problems_[id::chain_depth].empty()) {
        problems_[id::chain_depth].push_back(
            {id::chain_depth, Severity::Fail,
             "the walk went " + std::to_string(links) +
                 " certificate(s) above the enrollee without reaching an anchor (max_chain_depth " +
                 std::to_string(keyring_->max_chain_depth) + ")"});
    }
    report(id::chain_depth, std::to_string(links) + " certificate(s) above the enrollee; '" +
                                target_name_ + "' allows " +
                                std::to_string(keyring_->max_chain_depth));

    // chain.loop
    if (search_.end == WalkEnd::Loop) {
        add(id::chain_loop, Outcome::Fail,
            "every issuer of " + last.label +
                " is already in the chain: the certificates vouch for each other and never reach "
                "an anchor");
    } else {
        add(id::chain_loop, Outcome::Pass, "no certificate repeats in the chain");
    }

    // chain.anchor
    if (search_.complete) {
        const ChainNode& anchor = graph_->node(path.back());
        std::string reason = "the chain ends at " + anchor.label + ", " + where(anchor);
        if (anchor.keyring && !anchor.pinned) {
            reason += ", a keyring '" + target_name_ + "' trusts";
        }
        add(id::chain_anchor, Outcome::Pass, reason);
    } else {
        std::string reason = "no chain from the enrollee reaches a certificate or key in " +
                             trusted + " (the keyrings '" + target_name_ + "' trusts)";
        if (!keyring_->pinned_issuers.empty()) reason += " or a pinned issuer";
        if (links > 0) {
            reason += "; the walk ended at " + last.label;
            if (search_.end == WalkEnd::NoIssuer) {
                reason += ", whose issuer '" + last.certificate->info().issuer + "' is not known";
            }
        }
        if (search_.budget_exhausted || search_.end == WalkEnd::GaveUp) {
            reason +=
                "; the search gave up after " + std::to_string(search_.links_judged) + " links";
        }
        add(id::chain_anchor, Outcome::Fail, reason);
    }

    // kernel.direct-issuer
    if (!guarded()) {
        add(id::kernel_direct_issuer, Outcome::Skip,
            "'" + keyring_->kernel_keyring +
                "' has no kernel restriction: the kernel does not look for an issuer");
    } else if (!any_issuer) {
        add(id::kernel_direct_issuer, Outcome::Skip, "no issuer in the chain");
    } else {
        report(id::kernel_direct_issuer, "the direct issuer " + graph_->node(path[1]).label +
                                             " is " + where(graph_->node(path[1])) +
                                             ", where the kernel will look for it");
    }
}

void Evaluation::policy_ca_enforcement_check() {
    // The policy's own CA rule for the keyring.
    const bool machine = target_ == LogicalKeyring::Machine;
    if (keyring_->ca_enforcement == CaEnforcement::None) {
        add(id::ca_enforcement, Outcome::Skip,
            "the policy sets no CA enforcement on '" + target_name_ + "' (ca_enforcement: none)");
    } else {
        const bool max = keyring_->ca_enforcement == CaEnforcement::CaMax;
        const std::string mode(to_string(keyring_->ca_enforcement));
        const std::string violation = ca_rule_violation(info_, max);
        if (violation.empty()) {
            add(id::ca_enforcement, Outcome::Pass,
                "a CA with keyCertSign" + std::string(max ? " and without digitalSignature" : "") +
                    ", as '" + target_name_ + "' wants (ca_enforcement: " + mode + ")");
        } else {
            std::string reason = "'" + target_name_ +
                                 "' takes only CA certificates with keyCertSign" +
                                 (max ? " and without digitalSignature" : "") +
                                 " (ca_enforcement: " + mode + "), and " + violation;
            if (machine) {
                reason += "; as the kernel does with such a MOK key, it belongs in platform";
                verdict_.belongs_in = LogicalKeyring::Platform;
            }
            add(id::ca_enforcement, Outcome::Fail, reason);
        }
    }
}

void Evaluation::kernel_rule_checks() {
    const bool machine = target_ == LogicalKeyring::Machine;

    // kernel.digsig
    if (target_ != LogicalKeyring::Ima && target_ != LogicalKeyring::Evm) {
        add(id::kernel_digsig, Outcome::Skip,
            "restrict_link_by_digsig guards only the kernel's .ima and .evm, not '" + target_name_ +
                "'");
    } else if (!guarded() || !keyring_->kernel_keyring.starts_with('.')) {
        // A restriction anchord puts on its own _ima (create_restriction)
        // checks signatures only: the kernel adds the digsig rule to the
        // keyrings it makes itself.
        add(id::kernel_digsig, Outcome::Skip,
            "'" + keyring_->kernel_keyring +
                "' is a keyring userspace made: the kernel's restrict_link_by_digsig is not on it");
    } else if (!kernel_.digsig_rule) {
        add(id::kernel_digsig, Outcome::Skip,
            "this kernel (" + std::to_string(kernel_.major) + "." + std::to_string(kernel_.minor) +
                ") has no restrict_link_by_digsig on .ima and .evm (it came with Linux 6.4)");
    } else {
        const std::string violation = digsig_rule_violation(info_);
        if (violation.empty()) {
            add(id::kernel_digsig, Outcome::Pass,
                "keyUsage digitalSignature without CA:TRUE or keyCertSign, as the kernel's "
                "restrict_link_by_digsig requires");
        } else {
            add(id::kernel_digsig, Outcome::Fail,
                "the kernel's restrict_link_by_digsig (Linux 6.4+) links into '" +
                    keyring_->kernel_keyring +
                    "' only a key whose certificate has keyUsage digitalSignature and neither "
                    "CA:TRUE nor keyCertSign; " +
                    violation + ": the kernel would answer ENOKEY");
        }
    }

    // kernel.ca-enforcement
    if (!machine) {
        add(id::kernel_ca_enforcement, Outcome::Skip,
            "restrict_link_by_ca guards only the kernel's .machine, not '" + target_name_ + "'");
    } else if (!kernel_.ca_machine_keyring) {
        add(id::kernel_ca_enforcement, Outcome::Skip,
            "this kernel enforces no CA rule on .machine (no CONFIG_INTEGRITY_CA_MACHINE_KEYRING)");
    } else {
        const bool max = kernel_.ca_machine_keyring_max;
        const std::string config =
            max ? "CONFIG_INTEGRITY_CA_MACHINE_KEYRING_MAX" : "CONFIG_INTEGRITY_CA_MACHINE_KEYRING";
        const std::string violation = ca_rule_violation(info_, max);
        if (violation.empty()) {
            add(id::kernel_ca_enforcement, Outcome::Pass,
                "a CA with keyCertSign" + std::string(max ? " and without digitalSignature" : "") +
                    ", as the kernel's restrict_link_by_ca (" + config + ") requires");
        } else {
            verdict_.belongs_in = LogicalKeyring::Platform;
            add(id::kernel_ca_enforcement, Outcome::Fail,
                "the kernel's restrict_link_by_ca (" + config +
                    ") links into .machine only a CA certificate with keyCertSign" +
                    (max ? " and without digitalSignature" : "") + "; " + violation +
                    ": the kernel would answer ENOKEY, and at boot it puts such a MOK key in "
                    "platform instead");
        }
    }
}

}  // namespace

Verdict evaluate(const Certificate& certificate, LogicalKeyring target, const Policy& policy,
                 const TrustSnapshot& snapshot, const KernelProfile& kernel,
                 std::chrono::system_clock::time_point now) {
    return Evaluation(certificate, target, policy, snapshot, kernel, now).run();
}

}  // namespace anchord
