// The kernel profile: the parsers on other kernels' texts, and this
// machine's profile against what its /proc says, read independently.
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <fstream>
#include <sstream>
#include <string>

#include "keyring/keyrings.hpp"

namespace anchord::keyring {
namespace {

std::string slurp(const char* path) {
    std::ifstream in(path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// Whether /proc/crypto lists an entry of a signature type whose name
// contains `needle`: a deliberately simple reading, apart from the parser.
bool proc_crypto_lists(const std::string& text, const std::string& needle) {
    std::istringstream in(text);
    std::string line, name;
    while (std::getline(in, line)) {
        if (line.rfind("name", 0) == 0) name = line.substr(line.find(':') + 2);
        if (line.rfind("type", 0) == 0) {
            std::string type = line.substr(line.find(':') + 2);
            bool signature = type == "sig" || type == "akcipher";
            if (signature && name.find(needle) != std::string::npos) return true;
        }
    }
    return false;
}

constexpr const char* kCrypto61 = R"(name         : ecdh-nist-p256
driver       : ecdh-nist-p256-generic
module       : kernel
priority     : 100
refcnt       : 1
selftest     : passed
internal     : no
type         : kpp

name         : pkcs1pad(rsa-generic,sha256)
driver       : pkcs1pad(rsa-generic,sha256)
module       : kernel
type         : akcipher

name         : rsa
driver       : rsa-generic
module       : kernel
type         : akcipher

name         : ecrdsa
driver       : ecrdsa-generic
type         : akcipher
)";

constexpr const char* kCrypto618Ecdsa = R"(name         : x962(ecdsa-nist-p256)
driver       : x962(ecdsa-nist-p256-generic)
type         : sig

name         : sm2
driver       : sm2-generic
type         : sig
)";

TEST(KernelProfileParse, ProcCryptoCountsSignatureEntriesOnly) {
    auto a = parse_proc_crypto(kCrypto61);
    EXPECT_EQ(a, (std::set<KeyAlgorithm>{KeyAlgorithm::Rsa}));  // ecdh is key agreement
    auto b = parse_proc_crypto(kCrypto618Ecdsa);
    EXPECT_EQ(b, (std::set<KeyAlgorithm>{KeyAlgorithm::Ecdsa, KeyAlgorithm::Sm2}));
    EXPECT_TRUE(parse_proc_crypto("").empty());
}

TEST(KernelProfileParse, ConfigLines) {
    auto c = parse_kernel_config(
        "#\n# CONFIG_INTEGRITY is not set\nCONFIG_KEYS=y\nCONFIG_CRYPTO_ECDSA=m\n"
        "CONFIG_SYSTEM_BLACKLIST_HASH_LIST=\"\"\n");
    EXPECT_TRUE(c.enabled("CONFIG_KEYS"));
    EXPECT_TRUE(c.enabled("CONFIG_CRYPTO_ECDSA"));
    EXPECT_FALSE(c.enabled("CONFIG_INTEGRITY"));
    EXPECT_FALSE(c.enabled("CONFIG_SYSTEM_BLACKLIST_HASH_LIST"));
    EXPECT_EQ(c.options.at("CONFIG_SYSTEM_BLACKLIST_HASH_LIST"), "\"\"");
}

TEST(KernelProfileParse, DigsigNeedsTheTrustedKeyringAnd64) {
    KernelFacts f;
    f.config = parse_kernel_config(
        "CONFIG_INTEGRITY=y\nCONFIG_INTEGRITY_TRUSTED_KEYRING=y\n"
        "CONFIG_INTEGRITY_CA_MACHINE_KEYRING=y\n");
    f.release = "6.1.0-18-amd64";
    auto p61 = kernel_profile_from(f);
    EXPECT_EQ(p61.major, 6);
    EXPECT_EQ(p61.minor, 1);
    EXPECT_TRUE(p61.integrity_trusted_keyring);
    EXPECT_TRUE(p61.ca_machine_keyring);
    EXPECT_FALSE(p61.ca_machine_keyring_max);
    EXPECT_FALSE(p61.digsig_rule);

    f.release = "6.4.0";
    EXPECT_TRUE(kernel_profile_from(f).digsig_rule);
    f.release = "7.0.1";
    EXPECT_TRUE(kernel_profile_from(f).digsig_rule);

    f.config = parse_kernel_config("CONFIG_INTEGRITY=y\n");
    f.release = "6.8.0";
    EXPECT_FALSE(kernel_profile_from(f).integrity_trusted_keyring);
    EXPECT_FALSE(kernel_profile_from(f).digsig_rule);
}

TEST(KernelProfileParse, WithoutConfigImaPresenceDecides) {
    KernelFacts f;
    f.release = "6.6.1";
    f.ima_keyring_present = true;
    EXPECT_TRUE(kernel_profile_from(f).integrity_trusted_keyring);
    EXPECT_TRUE(kernel_profile_from(f).digsig_rule);
    f.ima_keyring_present = false;
    EXPECT_FALSE(kernel_profile_from(f).integrity_trusted_keyring);
}

TEST(KernelProfileParse, ModuleVerifiersCountBeforeTheyLoad) {
    KernelFacts f;
    f.release = "6.1.0";
    f.proc_crypto = kCrypto61;
    f.config = parse_kernel_config("CONFIG_CRYPTO_ECDSA=m\n");
    EXPECT_TRUE(kernel_profile_from(f).verifiable.contains(KeyAlgorithm::Ecdsa));
    f.config = parse_kernel_config("# CONFIG_CRYPTO_ECDSA is not set\n");
    EXPECT_FALSE(kernel_profile_from(f).verifiable.contains(KeyAlgorithm::Ecdsa));
}

TEST(KernelProfileLive, MatchesWhatThisKernelShows) {
    KernelProfile p = detect_kernel_profile();
    utsname u{};
    ASSERT_EQ(uname(&u), 0);
    EXPECT_EQ(std::to_string(p.major) + "." + std::to_string(p.minor) + ".",
              std::string(u.release).substr(
                  0, std::to_string(p.major).size() + std::to_string(p.minor).size() + 2));

    std::string crypto = slurp("/proc/crypto");
    auto config = read_kernel_config();
    bool rsa = proc_crypto_lists(crypto, "rsa") || (config && config->enabled("CONFIG_CRYPTO_RSA"));
    bool ecdsa =
        proc_crypto_lists(crypto, "ecdsa") || (config && config->enabled("CONFIG_CRYPTO_ECDSA"));
    EXPECT_TRUE(rsa) << "this suite needs a kernel that verifies RSA";
    EXPECT_EQ(p.verifiable.contains(KeyAlgorithm::Rsa), rsa);
    EXPECT_EQ(p.verifiable.contains(KeyAlgorithm::Ecdsa), ecdsa);

    // .ima exists exactly when the kernel has INTEGRITY_TRUSTED_KEYRING.
    bool ima_listed = slurp("/proc/keys").find(" .ima: ") != std::string::npos;
    EXPECT_EQ(p.integrity_trusted_keyring, ima_listed);
    EXPECT_EQ(p.digsig_rule,
              p.integrity_trusted_keyring && (p.major > 6 || (p.major == 6 && p.minor >= 4)));
}

TEST(KernelProfileLive, ReadsTheConfigWhenTheKernelExposesIt) {
    bool exposed =
        std::ifstream("/proc/config.gz").good() || std::ifstream(std::string("/boot/config-") +
                                                                 [] {
                                                                     utsname u{};
                                                                     uname(&u);
                                                                     return std::string(u.release);
                                                                 }())
                                                       .good();
    auto config = read_kernel_config();
    ASSERT_EQ(config.has_value(), exposed);
    if (!config) GTEST_SKIP() << "this kernel exposes no configuration";
    // These keyring tests run at all, so the kernel has keys and X.509.
    EXPECT_TRUE(config->enabled("CONFIG_KEYS"));
    EXPECT_TRUE(config->enabled("CONFIG_ASYMMETRIC_KEY_TYPE"));
    EXPECT_FALSE(config->source.empty());
}

}  // namespace
}  // namespace anchord::keyring
