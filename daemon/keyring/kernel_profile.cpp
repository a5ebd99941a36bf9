// What the running kernel is, read from what it exposes: uname, its build
// configuration and /proc/crypto. Nothing here is assumed from a version.
#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

#include "keyring/keyctl.hpp"
#include "keyring/keyrings.hpp"

namespace anchord::keyring {
namespace {

std::string_view trim(std::string_view s) {
    auto start = s.find_first_not_of(" \t\r");
    if (start == std::string_view::npos) return {};
    auto end = s.find_last_not_of(" \t\r");
    return s.substr(start, end - start + 1);
}

// A /proc/crypto algorithm name, for the signature schemes the X.509
// parser can hand to the kernel's verifiers.
std::optional<KeyAlgorithm> classify_signature_algorithm(std::string_view name) {
    // 6.13+ register "sig" instances such as "pkcs1(rsa,sha256)" and
    // "x962(ecdsa-nist-p256)" on first use; older kernels "pkcs1pad(rsa,...)".
    if (name == "rsa" || name.starts_with("pkcs1pad(rsa") || name.starts_with("pkcs1(rsa")) {
        return KeyAlgorithm::Rsa;
    }
    if (name.starts_with("psspad(rsa") || name.starts_with("pss(rsa")) return KeyAlgorithm::RsaPss;
    if (name.starts_with("ecdsa") || name.find("(ecdsa") != std::string_view::npos) {
        return KeyAlgorithm::Ecdsa;
    }
    if (name == "sm2") return KeyAlgorithm::Sm2;
    if (name == "ed25519") return KeyAlgorithm::Ed25519;
    if (name == "ed448") return KeyAlgorithm::Ed448;
    std::string compact;
    for (char c : name) {
        if (c != '-' && c != '_') compact.push_back(c);
    }
    if (compact == "mldsa44") return KeyAlgorithm::MlDsa44;
    if (compact == "mldsa65") return KeyAlgorithm::MlDsa65;
    if (compact == "mldsa87") return KeyAlgorithm::MlDsa87;
    return std::nullopt;
}

// The digests the X.509 parser can name for a signature, by the name the
// kernel registers them under. md5 is left out: the parser refuses it.
std::optional<HashAlgorithm> classify_hash(std::string_view name) {
    static constexpr std::array<std::pair<std::string_view, HashAlgorithm>, 9> kNames{{
        {"sha1", HashAlgorithm::Sha1},
        {"sha224", HashAlgorithm::Sha224},
        {"sha256", HashAlgorithm::Sha256},
        {"sha384", HashAlgorithm::Sha384},
        {"sha512", HashAlgorithm::Sha512},
        {"sha3-256", HashAlgorithm::Sha3_256},
        {"sha3-384", HashAlgorithm::Sha3_384},
        {"sha3-512", HashAlgorithm::Sha3_512},
        {"sm3", HashAlgorithm::Sm3},
    }};
    for (const auto& [n, h] : kNames) {
        if (n == name) return h;
    }
    return std::nullopt;
}

// Verifiers a configuration builds as modules: the kernel loads them when
// the X.509 code first asks, so /proc/crypto does not list them before.
constexpr std::array<std::pair<std::string_view, KeyAlgorithm>, 3> kVerifierOptions{{
    {"CONFIG_CRYPTO_RSA", KeyAlgorithm::Rsa},
    {"CONFIG_CRYPTO_ECDSA", KeyAlgorithm::Ecdsa},
    {"CONFIG_CRYPTO_SM2", KeyAlgorithm::Sm2},
}};
// Digests likewise (crypto_alloc_shash loads the module).
constexpr std::array<std::pair<std::string_view, HashAlgorithm>, 10> kHashOptions{{
    {"CONFIG_CRYPTO_SHA1", HashAlgorithm::Sha1},
    {"CONFIG_CRYPTO_SHA256", HashAlgorithm::Sha224},
    {"CONFIG_CRYPTO_SHA256", HashAlgorithm::Sha256},
    {"CONFIG_CRYPTO_SHA512", HashAlgorithm::Sha384},
    {"CONFIG_CRYPTO_SHA512", HashAlgorithm::Sha512},
    {"CONFIG_CRYPTO_SHA3", HashAlgorithm::Sha3_256},
    {"CONFIG_CRYPTO_SHA3", HashAlgorithm::Sha3_384},
    {"CONFIG_CRYPTO_SHA3", HashAlgorithm::Sha3_512},
    {"CONFIG_CRYPTO_SM3", HashAlgorithm::Sm3},
    {"CONFIG_CRYPTO_SM3_GENERIC", HashAlgorithm::Sm3},
}};

// Calls fn(name, type) for each entry of /proc/crypto's text.
template <typename Fn>
void for_each_crypto_entry(std::string_view text, Fn&& fn) {
    std::string name;
    std::string type;
    auto flush = [&] {
        if (!name.empty()) fn(std::string_view(name), std::string_view(type));
        name.clear();
        type.clear();
    };
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (trim(line).empty()) {
            flush();
            continue;
        }
        auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view key = trim(line.substr(0, colon));
        std::string_view value = trim(line.substr(colon + 1));
        if (key == "name") {
            if (!name.empty()) flush();  // entries not separated by a blank line
            name = std::string(value);
        } else if (key == "type") {
            type = std::string(value);
        }
    }
    flush();
}

std::pair<int, int> parse_version(std::string_view release) {
    int major = 0;
    int minor = 0;
    const char* p = release.data();
    const char* end = p + release.size();
    auto r = std::from_chars(p, end, major);
    if (r.ec == std::errc() && r.ptr != end && *r.ptr == '.') {
        std::from_chars(r.ptr + 1, end, minor);
    }
    return {major, minor};
}

}  // namespace

bool KernelConfig::enabled(std::string_view option) const {
    auto it = options.find(option);
    return it != options.end() && (it->second == "y" || it->second == "m");
}

KernelConfig parse_kernel_config(std::string_view text) {
    KernelConfig config;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = trim(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (line.empty() || line.front() == '#') continue;  // "# CONFIG_X is not set"
        auto eq = line.find('=');
        if (eq == std::string_view::npos || !line.starts_with("CONFIG_")) continue;
        config.options.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
    }
    return config;
}

std::optional<KernelConfig> read_kernel_config() {
    utsname u{};
    if (uname(&u) != 0) return std::nullopt;
    auto text = sys::read_kernel_config_text(u.release);
    if (!text) return std::nullopt;
    KernelConfig config = parse_kernel_config(text->text);
    config.source = text->source;
    return config;
}

std::set<KeyAlgorithm> parse_proc_crypto(std::string_view text) {
    std::set<KeyAlgorithm> out;
    for_each_crypto_entry(text, [&](std::string_view name, std::string_view type) {
        if (type == "sig" || type == "akcipher") {
            if (auto a = classify_signature_algorithm(name)) out.insert(*a);
        }
    });
    return out;
}

std::set<HashAlgorithm> parse_proc_crypto_hashes(std::string_view text) {
    std::set<HashAlgorithm> out;
    for_each_crypto_entry(text, [&](std::string_view name, std::string_view type) {
        if (type != "shash") return;
        if (auto h = classify_hash(name)) out.insert(*h);
    });
    return out;
}

KernelProfile kernel_profile_from(const KernelFacts& facts) {
    KernelProfile p;
    std::tie(p.major, p.minor) = parse_version(facts.release);
    if (facts.config) {
        p.integrity_trusted_keyring = facts.config->enabled("CONFIG_INTEGRITY_TRUSTED_KEYRING");
        p.ca_machine_keyring = facts.config->enabled("CONFIG_INTEGRITY_CA_MACHINE_KEYRING");
        p.ca_machine_keyring_max = facts.config->enabled("CONFIG_INTEGRITY_CA_MACHINE_KEYRING_MAX");
    } else {
        // Without the configuration, .ima's presence is the evidence; CA
        // enforcement leaves no trace outside the configuration.
        p.integrity_trusted_keyring = facts.ima_keyring_present;
    }
    p.digsig_rule = p.integrity_trusted_keyring && (p.major > 6 || (p.major == 6 && p.minor >= 4));
    p.verifiable = parse_proc_crypto(facts.proc_crypto);
    p.hashes = parse_proc_crypto_hashes(facts.proc_crypto);
    if (facts.config) {
        for (const auto& [option, algorithm] : kVerifierOptions) {
            if (facts.config->enabled(option)) p.verifiable.insert(algorithm);
        }
        for (const auto& [option, hash] : kHashOptions) {
            if (facts.config->enabled(option)) p.hashes.insert(hash);
        }
    }
    return p;
}

KernelProfile detect_kernel_profile() {
    KernelFacts facts;
    utsname u{};
    if (uname(&u) == 0) facts.release = u.release;
    facts.config = read_kernel_config();
    facts.proc_crypto = sys::read_text_file("/proc/crypto").value_or("");
    facts.ima_keyring_present = sys::find_keyring(sys::read_proc_keys(), ".ima").has_value();
    return kernel_profile_from(facts);
}

}  // namespace anchord::keyring
