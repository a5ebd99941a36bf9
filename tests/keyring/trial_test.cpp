// A trial link gives the kernel's own verdict without touching the target:
// compared with the real add for good and bad certificates alike.
#include <gtest/gtest.h>
#include <keyutils.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "anchord/openssl.hpp"
#include "keyring/keyrings.hpp"
#include "keyring_fixture.hpp"
#include "test_pki.hpp"

namespace anchord::keyring::test {
namespace {

using anchord::testing::ca_spec;
using anchord::testing::KeyType;
using anchord::testing::make_chain;
using anchord::testing::make_self_signed;
using anchord::testing::make_signed;
using anchord::testing::signing_spec;
using anchord::testing::TestCert;

// `cert` signed again by `issuer` with RSASSA-PSS (the test PKI signs with
// PKCS#1 v1.5 only).
Bytes resign_with_pss(const TestCert& cert, const TestCert& issuer) {
    ossl::X509Ptr copy(X509_dup(cert.x509.get()));
    ossl::EvpMdCtxPtr md(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;  // owned by md
    if (!copy || !md ||
        EVP_DigestSignInit(md.get(), &pctx, EVP_sha256(), nullptr, issuer.key.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
        X509_sign_ctx(copy.get(), md.get()) <= 0) {
        throw std::runtime_error("PSS signing: " + ossl::drain_errors());
    }
    int len = i2d_X509(copy.get(), nullptr);
    Bytes der(static_cast<std::size_t>(len));
    unsigned char* p = der.data();
    i2d_X509(copy.get(), &p);
    return der;
}

struct Case {
    std::string name;
    Bytes der;
    int expected;   // the errno measured on this project's kernel; 0: accepted
    int also = -1;  // a second answer, where the input's bytes decide between two
};

class TrialTest : public KeyringTest {};

TEST_F(TrialTest, TrialVerdictEqualsTheRealAddAndLeavesNothing) {
    KernelProfile profile = detect_kernel_profile();
    auto chain = make_chain();
    Keyrings ks = Keyrings::sandbox({certificate_of(chain.root)});
    ks.add(LogicalKeyring::Secondary, chain.intermediate.der);
    TestCert p256 = make_signed(ca_spec("p256 intermediate"), chain.root, KeyType::P256);
    ks.add(LogicalKeyring::Secondary, p256.der);

    auto expired_spec = signing_spec("expired");
    auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    expired_spec.not_before = now - std::chrono::hours(24 * 30);
    expired_spec.not_after = now - std::chrono::hours(24);
    TestCert other_intermediate = make_signed(ca_spec("absent intermediate"), chain.root);
    TestCert pss_leaf = make_signed(signing_spec("pss leaf"), chain.intermediate);
    Bytes random(600);
    ASSERT_EQ(RAND_bytes(random.data(), static_cast<int>(random.size())), 1);
    random[0] = 0x30;  // still a SEQUENCE tag, so the parser reads on

    std::vector<Case> cases = {
        {"good leaf", chain.leaf.der, 0},
        {"RSA-3072 leaf",
         make_signed(signing_spec("rsa3072"), chain.intermediate, KeyType::Rsa3072).der, 0},
        {"CA certificate as a leaf", make_signed(ca_spec("sub ca"), chain.intermediate).der, 0},
        {"expired leaf", make_signed(expired_spec, chain.intermediate).der, 0},
        {"P-256 key signed by RSA",
         make_signed(signing_spec("p256 key"), chain.intermediate, KeyType::P256).der, 0},
        {"rogue self-signed", make_self_signed(signing_spec("rogue")).der, ENOKEY},
        {"issuer absent", make_signed(signing_spec("orphan"), other_intermediate).der, ENOKEY},
        {"tampered signature", anchord::testing::tamper_signature(chain.leaf.der), EINVAL, EBADMSG},
        {"tampered TBS", anchord::testing::tamper_tbs(chain.leaf.der), EKEYREJECTED},
        {"malformed DER", random, EBADMSG},
        {"PEM given as DER", chain.leaf.pem_bytes(), EBADMSG},
        {"empty", {}, EINVAL},
        {"Ed25519 key",
         make_signed(signing_spec("ed25519"), chain.intermediate, KeyType::Ed25519).der, ENOPKG},
        {"secp256k1 key",
         make_signed(signing_spec("k1"), chain.intermediate, KeyType::Secp256k1).der, ENOPKG},
        {"RSA-PSS signature", resign_with_pss(pss_leaf, chain.intermediate), ENOPKG},
        {"leaf under a P-256 issuer", make_signed(signing_spec("under p256"), p256).der,
         profile.verifiable.contains(KeyAlgorithm::Ecdsa) ? 0 : ENOENT},
    };

    key_serial_t ima = ks.location(LogicalKeyring::Ima).serial->value;
    auto before = ring_serials(ima);
    std::vector<TrialResult> trials;
    for (const auto& c : cases) trials.push_back(ks.trial(LogicalKeyring::Ima, c.der));

    // The target is untouched and no scratch keyring is left anywhere.
    EXPECT_EQ(ring_serials(ima), before);
    EXPECT_EQ(count_named_keyrings(KEY_SPEC_PROCESS_KEYRING, "anchord:trial"), 0);
    EXPECT_EQ(count_named_keyrings(session_, "anchord:trial"), 0);
    EXPECT_EQ(ring_serials(KEY_SPEC_PROCESS_KEYRING).size(), 0u);

    for (std::size_t i = 0; i < cases.size(); ++i) {
        const Case& c = cases[i];
        const TrialResult& t = trials[i];
        int real = real_add(ima, c.der);
        EXPECT_EQ(t.error_number, real) << c.name << ": trial " << t.error_name << ", real "
                                        << (real ? errno_name(real) : "accepted");
        EXPECT_TRUE(real == c.expected || real == c.also)
            << c.name << ": kernel said " << (real ? errno_name(real) : "accepted");
        EXPECT_EQ(t.accepted, real == 0) << c.name;
        EXPECT_EQ(t.error_name, real ? errno_name(real) : "") << c.name;
        EXPECT_FALSE(t.measured.empty());
    }
}

TEST_F(TrialTest, SealedAndChainKeyringsAreReproduced) {
    auto chain = make_chain();
    Keyrings ks = Keyrings::sandbox({certificate_of(chain.root)});
    TestCert rogue_ca = make_self_signed(ca_spec("rogue ca"));

    TrialResult sealed = ks.trial(LogicalKeyring::Builtin, rogue_ca.der);
    EXPECT_FALSE(sealed.accepted);
    EXPECT_EQ(sealed.error_number, EPERM);
    EXPECT_EQ(real_add(ks.location(LogicalKeyring::Builtin).serial->value, rogue_ca.der), EPERM);

    // secondary: vouched for by builtin (nested), by itself, not by a rogue.
    EXPECT_TRUE(ks.trial(LogicalKeyring::Secondary, chain.intermediate.der).accepted);
    ks.add(LogicalKeyring::Secondary, chain.intermediate.der);
    TestCert second_level = make_signed(ca_spec("second level"), chain.intermediate);
    EXPECT_TRUE(ks.trial(LogicalKeyring::Secondary, second_level.der).accepted);
    TrialResult rogue = ks.trial(LogicalKeyring::Secondary, rogue_ca.der);
    EXPECT_EQ(rogue.error_number, ENOKEY);
    key_serial_t secondary = ks.location(LogicalKeyring::Secondary).serial->value;
    EXPECT_EQ(real_add(secondary, rogue_ca.der), ENOKEY);
    EXPECT_EQ(real_add(secondary, second_level.der), 0);

    // The sandbox's blacklist is not the kernel's: the trial says so.
    EXPECT_NE(std::find(rogue.predicted.begin(), rogue.predicted.end(), "sandbox.blacklist"),
              rogue.predicted.end());
}

}  // namespace
}  // namespace anchord::keyring::test
