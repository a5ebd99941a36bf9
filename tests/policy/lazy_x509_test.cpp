// Certificates that hold no OpenSSL object until one is asked for
// (Certificate::without_x509), as the daemon keeps its recorded leaves: the
// object decoded on demand works, is decoded once however many threads ask,
// is shared by every copy, and a verdict decodes only the issuers it uses.
#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <cstddef>
#include <latch>
#include <thread>
#include <vector>

#include "anchord/certificate.hpp"
#include "anchord/verdict.hpp"
#include "test_pki.hpp"
#include "verdict_fixture.hpp"

namespace anchord {
namespace {

using testing::cert;
using testing::CertSpec;
using testing::Inputs;
using testing::KeyType;
using testing::make_self_signed;
using testing::make_signed;
using testing::pki;

TEST(LazyX509, WithoutX509KeepsTheBytesAndValues) {
    const Certificate full = cert(pki().leaf);
    const Certificate lean = full.without_x509();
    EXPECT_TRUE(full.holds_x509());
    EXPECT_FALSE(lean.holds_x509());
    EXPECT_EQ(lean.der(), full.der());
    EXPECT_EQ(lean.info().fingerprint, full.info().fingerprint);
    EXPECT_EQ(lean.info().subject, full.info().subject);
    EXPECT_EQ(lean.info().kernel_description, full.info().kernel_description);
}

// The DER is held once: a record's bytes, the certificate read from them
// and its lean copy are one buffer, not three (a megabyte at a thousand
// records, and a copy of it in every state a change saved).
TEST(LazyX509, TheDerIsSharedNotCopied) {
    const SharedBytes der(pki().leaf.der);
    const Certificate read = parse_shared_der_certificate(der);
    EXPECT_EQ(read.der().data(), der.data());
    EXPECT_EQ(read.without_x509().der().data(), der.data());
    EXPECT_EQ(read.info().fingerprint, cert(pki().leaf).info().fingerprint);
    const SharedBytes copy = der;  // as a copy of a state's record
    EXPECT_EQ(copy.data(), der.data());
    EXPECT_EQ(copy, SharedBytes(pki().leaf.der));  // equal by content too
    EXPECT_NE(copy, SharedBytes(pki().root.der));
    // Not DER: refused as parse_der_certificate refuses it.
    Bytes tampered = pki().leaf.der;
    tampered.push_back(0);
    EXPECT_THROW(parse_shared_der_certificate(SharedBytes(tampered)), Error);
}

TEST(LazyX509, DecodedOnDemandVerifiesItsSignature) {
    const Certificate issuer = cert(pki().intermediate).without_x509();
    const Certificate leaf = cert(pki().leaf).without_x509();
    X509* x = leaf.x509();
    ASSERT_NE(x, nullptr);
    EXPECT_TRUE(leaf.holds_x509());
    EXPECT_TRUE(leaf.signature_verified_by(issuer.public_key()));
    // Not by someone else's key.
    EXPECT_FALSE(leaf.signature_verified_by(cert(pki().root).public_key()));
    // Decoded once, then kept: the same object every time.
    EXPECT_EQ(leaf.x509(), x);
    // The same certificate as OpenSSL sees it.
    EXPECT_EQ(X509_cmp(x, pki().leaf.x509.get()), 0);
}

TEST(LazyX509, CopiesShareTheDecodedObject) {
    const Certificate lean = cert(pki().leaf).without_x509();
    const Certificate copy = lean;  // as a trust snapshot copies the record map's
    X509* x = copy.x509();
    EXPECT_TRUE(lean.holds_x509());
    EXPECT_EQ(lean.x509(), x);
    // A fresh lean copy starts empty again: it does not share with its source.
    const Certificate again = lean.without_x509();
    EXPECT_FALSE(again.holds_x509());
}

TEST(LazyX509, TwoThreadsAskingAtOnceGetOneWorkingObject) {
    const Certificate issuer = cert(pki().intermediate);
    EVP_PKEY* key = issuer.public_key();
    ASSERT_NE(key, nullptr);
    // Many rounds, each with a certificate that has not decoded yet, so that
    // the two threads race on the first decode again and again.
    for (int round = 0; round < 50; ++round) {
        const Certificate lean = cert(pki().leaf).without_x509();
        std::latch start(2);
        X509* seen[2] = {nullptr, nullptr};
        int verified[2] = {0, 0};
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < 2; ++t) {
            threads.emplace_back([&, t] {
                start.arrive_and_wait();
                seen[t] = lean.x509();
                verified[t] = lean.signature_verified_by(key) ? 1 : 0;
            });
        }
        for (auto& t : threads) t.join();
        ASSERT_NE(seen[0], nullptr);
        EXPECT_EQ(seen[0], seen[1]) << "round " << round;
        EXPECT_EQ(verified[0], 1) << "round " << round;
        EXPECT_EQ(verified[1], 1) << "round " << round;
        EXPECT_EQ(lean.x509(), seen[0]);
    }
}

// The pre-filter of chain building (policy/chain.cpp) rules an issuer out
// by unequal name hashes: it may only do so if names that X509_NAME_cmp
// finds equal always hash equal, however differently they are written.
TEST(LazyX509, NamesThatCompareEqualHashEqual) {
    CertSpec plain;
    plain.common_name = "Example Signing CA";
    CertSpec spaced;
    spaced.common_name = "  example   SIGNING ca ";
    const Certificate a = cert(make_self_signed(plain, KeyType::P256));
    const Certificate b = cert(make_self_signed(spaced, KeyType::P256));
    ASSERT_EQ(X509_NAME_cmp(X509_get_subject_name(a.x509()), X509_get_subject_name(b.x509())), 0);
    ASSERT_TRUE(a.info().subject_name_hash.has_value());
    EXPECT_EQ(a.info().subject_name_hash, b.info().subject_name_hash);

    // And what issued a certificate hashes as that certificate's issuer.
    const auto& chain = pki();
    EXPECT_EQ(cert(chain.leaf).info().issuer_name_hash,
              cert(chain.intermediate).info().subject_name_hash);
    EXPECT_NE(cert(chain.leaf).info().issuer_name_hash, cert(chain.root).info().subject_name_hash);
    // As `openssl x509 -subject_hash` prints it.
    EXPECT_EQ(*cert(chain.root).info().subject_name_hash,
              static_cast<std::uint32_t>(X509_subject_name_hash(chain.root.x509.get())));
}

// What the daemon's memory saving rests on: judging a certificate decodes
// the OpenSSL objects of its issuers only, never those of the other leaves
// a keyring holds, even of leaves without a subject key identifier (which
// the key identifiers cannot rule out); and the verdict is the same as with
// every object decoded beforehand.
TEST(LazyX509, AVerdictDecodesOnlyTheIssuersItUses) {
    const auto& chain = pki();
    CertSpec no_skid = testing::signing_spec("sibling without a key identifier");
    no_skid.subject_key_id = false;
    const auto sibling_plain = make_signed(no_skid, chain.intermediate);
    const auto sibling_skid = make_signed(testing::signing_spec("sibling"), chain.intermediate);

    Inputs full;
    full.snapshot.certificates[LogicalKeyring::Ima] = {cert(sibling_plain), cert(sibling_skid)};
    const Verdict expected = full.run(cert(chain.leaf));
    ASSERT_TRUE(expected.accepted) << testing::describe(expected);

    Inputs lean;
    const Certificate intermediate = cert(chain.intermediate).without_x509();
    const Certificate sibling_a = cert(sibling_plain).without_x509();
    const Certificate sibling_b = cert(sibling_skid).without_x509();
    lean.snapshot.certificates[LogicalKeyring::Secondary] = {intermediate};
    lean.snapshot.certificates[LogicalKeyring::Ima] = {sibling_a, sibling_b};
    const Verdict got = lean.run(cert(chain.leaf));

    EXPECT_EQ(got.accepted, expected.accepted) << testing::describe(got);
    ASSERT_EQ(got.checks.size(), expected.checks.size()) << testing::describe(got);
    for (std::size_t i = 0; i < got.checks.size(); ++i) {
        EXPECT_EQ(got.checks[i].id, expected.checks[i].id);
        EXPECT_EQ(got.checks[i].outcome, expected.checks[i].outcome) << got.checks[i].id;
    }
    EXPECT_TRUE(intermediate.holds_x509()) << "the issuer's key checked the leaf's signature";
    EXPECT_FALSE(sibling_a.holds_x509());
    EXPECT_FALSE(sibling_b.holds_x509());
}

}  // namespace
}  // namespace anchord
