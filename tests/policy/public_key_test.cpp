// A certificate is read without loading its public key (OpenSSL 3.0's
// provider decoders cost most of a read): the key's size still comes out as
// a full load gives it, a malformed key still measures 0, the key itself is
// loaded on demand, once, and signatures check against the TBSCertificate
// as it stands in the DER, by the right key only.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <cstddef>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "anchord/certificate.hpp"
#include "anchord/openssl.hpp"
#include "test_pki.hpp"
#include "verdict_fixture.hpp"

namespace anchord {
namespace {

using testing::cert;
using testing::CertSpec;
using testing::KeyType;
using testing::make_self_signed;
using testing::make_signed;
using testing::pki;
using testing::TestCert;

// The size OpenSSL gives the key when it loads it the usual way.
int bits_of_full_load(const TestCert& c) {
    const unsigned char* p = c.der.data();
    ossl::X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(c.der.size())));
    EVP_PKEY* key = x ? X509_get0_pubkey(x.get()) : nullptr;
    return key ? EVP_PKEY_get_bits(key) : 0;
}

// `base` with its subject key replaced by `key` under the algorithm `oid`
// (and the named curve `curve`, if any), signed again by `issuer`.
TestCert with_raw_key(const TestCert& base, const TestCert& issuer, const char* oid, int curve_nid,
                      const Bytes& key) {
    ossl::X509Ptr x(X509_dup(base.x509.get()));
    auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(key.size()));
    if (!x || copy == nullptr) throw std::runtime_error("allocation");
    std::copy(key.begin(), key.end(), copy);
    void* param = curve_nid == NID_undef ? nullptr : OBJ_nid2obj(curve_nid);
    if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x.get()), OBJ_txt2obj(oid, 1),
                               curve_nid == NID_undef ? V_ASN1_NULL : V_ASN1_OBJECT, param, copy,
                               static_cast<int>(key.size())) != 1)
        throw std::runtime_error("X509_PUBKEY_set0_param");
    if (X509_sign(x.get(), issuer.key.get(), EVP_sha256()) <= 0)
        throw std::runtime_error("X509_sign");
    TestCert out;
    out.der = testing::to_der(x.get());
    out.x509 = std::shared_ptr<X509>(x.release(), X509_free);
    return out;
}

TEST(PublicKey, SizesAreThoseOfAFullLoad) {
    for (auto type :
         {KeyType::Rsa1024, KeyType::Rsa2048, KeyType::Rsa3072, KeyType::Rsa4096, KeyType::P256,
          KeyType::P384, KeyType::P521, KeyType::Secp256k1, KeyType::Ed25519, KeyType::Dsa2048}) {
        const auto leaf = make_signed(testing::signing_spec("size"), pki().intermediate, type);
        const int expected = bits_of_full_load(leaf);
        ASSERT_GT(expected, 0);
        EXPECT_EQ(cert(leaf).info().public_key.bits, expected)
            << "key type " << static_cast<int>(type);
    }
}

TEST(PublicKey, AMalformedKeyMeasuresAsAFullLoadMeasuresIt) {
    const auto base = make_signed(testing::signing_spec("malformed key"), pki().intermediate);
    // An RSA key that is no RSAPublicKey; a P-256 point that is not on the
    // curve; a point cut short: no size, no key. And an RSA key with a byte
    // after it, which OpenSSL loads all the same (the kernel judges it).
    Bytes point(65, 0x01);
    point[0] = 0x04;
    const std::vector<std::pair<TestCert, std::string>> cases = {
        {with_raw_key(base, pki().intermediate, "1.2.840.113549.1.1.1", NID_undef,
                      Bytes{0x04, 0x03, 0x01, 0x02, 0x03}),
         "not an RSAPublicKey"},
        {with_raw_key(base, pki().intermediate, "1.2.840.113549.1.1.1", NID_undef,
                      Bytes{0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x03, 0x00}),
         "trailing byte"},
        {with_raw_key(base, pki().intermediate, "1.2.840.10045.2.1", NID_X9_62_prime256v1, point),
         "point off the curve"},
        {with_raw_key(base, pki().intermediate, "1.2.840.10045.2.1", NID_X9_62_prime256v1,
                      Bytes(point.begin(), point.begin() + 33)),
         "point cut short"},
    };
    for (const auto& [c, what] : cases) {
        const Certificate read = cert(c);
        EXPECT_EQ(read.info().public_key.bits, bits_of_full_load(c)) << what;
        if (what == "trailing byte") {
            EXPECT_EQ(read.info().public_key.bits, 3);  // the modulus 5
            EXPECT_NE(read.public_key(), nullptr);
            continue;
        }
        EXPECT_EQ(read.info().public_key.bits, 0) << what;
        EXPECT_EQ(read.public_key(), nullptr) << what;
        EXPECT_EQ(read.public_key(), nullptr) << what << " (asked again)";
    }
}

TEST(PublicKey, LoadedOnDemandOnceAndTheSameKey) {
    const Certificate issuer = cert(pki().intermediate);
    // Reading the certificate did not load the key into the OpenSSL object.
    EXPECT_EQ(X509_get0_pubkey(issuer.x509()), nullptr);
    EVP_PKEY* key = issuer.public_key();
    ASSERT_NE(key, nullptr);
    EXPECT_EQ(issuer.public_key(), key);
    const Certificate copy = issuer;
    EXPECT_EQ(copy.public_key(), key);
    EXPECT_EQ(EVP_PKEY_eq(key, pki().intermediate.key.get()), 1);
    // Leaving the OpenSSL object out keeps the values, not the key.
    EXPECT_EQ(EVP_PKEY_eq(issuer.without_x509().public_key(), key), 1);
}

TEST(PublicKey, TwoThreadsAskingAtOnceGetOneKey) {
    for (int round = 0; round < 50; ++round) {
        const Certificate issuer = cert(pki().intermediate).without_x509();
        std::latch start(2);
        EVP_PKEY* seen[2] = {nullptr, nullptr};
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < 2; ++t) {
            threads.emplace_back([&, t] {
                start.arrive_and_wait();
                seen[t] = issuer.public_key();
            });
        }
        for (auto& t : threads) t.join();
        ASSERT_NE(seen[0], nullptr);
        EXPECT_EQ(seen[0], seen[1]) << "round " << round;
        EXPECT_EQ(issuer.public_key(), seen[0]);
    }
}

TEST(PublicKey, SignaturesCheckByTheIssuersKeyOnly) {
    const auto& chain = pki();
    const Certificate leaf = cert(chain.leaf);
    const Certificate intermediate = cert(chain.intermediate);
    const Certificate root = cert(chain.root);
    EXPECT_TRUE(leaf.signature_verified_by(intermediate.public_key()));
    EXPECT_TRUE(intermediate.signature_verified_by(root.public_key()));
    EXPECT_FALSE(leaf.signature_verified_by(root.public_key()));
    EXPECT_FALSE(leaf.signature_verified_by(leaf.public_key()));
    EXPECT_FALSE(leaf.signature_verified_by(nullptr));
    EXPECT_TRUE(root.info().self_signed);
    EXPECT_FALSE(leaf.info().self_signed);

    // One bit of the signature changed: the certificate still reads, and
    // no longer verifies.
    Bytes tampered = chain.leaf.der;
    tampered[tampered.size() - 1] ^= 0x01;
    const Certificate bad = parse_der_certificate(tampered);
    EXPECT_FALSE(bad.signature_verified_by(intermediate.public_key()));

    // An ECDSA issuer, and an ECDSA leaf under an RSA issuer.
    const auto ec_root = make_self_signed(testing::ca_spec("ec root"), KeyType::P384);
    const auto ec_leaf = make_signed(testing::signing_spec("ec leaf"), ec_root, KeyType::P256);
    EXPECT_TRUE(cert(ec_leaf).signature_verified_by(cert(ec_root).public_key()));
    EXPECT_FALSE(cert(ec_leaf).signature_verified_by(intermediate.public_key()));
    const auto p256 = make_signed(testing::signing_spec("p256"), chain.intermediate, KeyType::P256);
    EXPECT_TRUE(cert(p256).signature_verified_by(intermediate.public_key()));
}

}  // namespace
}  // namespace anchord
