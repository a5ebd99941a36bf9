// The verdict engine: each scenario evaluates one certificate built in
// process and asserts the outcome of the checks it is about. Together the
// scenarios give every check id of docs/checks.md a passing and a failing
// (or, for a check that cannot fail, a warning) case; a test below holds the
// table to that.
#include "anchord/verdict.hpp"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "anchord/certificate.hpp"
#include "anchord/openssl.hpp"
#include "anchord/policy.hpp"
#include "test_pki.hpp"
#include "verdict_fixture.hpp"

namespace anchord {
namespace {

using namespace std::chrono_literals;
using testing::base_kernel;
using testing::base_policy;
using testing::base_snapshot;
using testing::cert;
using testing::CertSpec;
using testing::describe;
using testing::Inputs;
using testing::keyring;
using testing::KeyType;
using testing::make_self_signed;
using testing::make_signed;
using testing::pki;
using testing::TestCert;
using testing::to_der;

// ---- the documented ids -------------------------------------------------------

struct DocumentedCheck {
    std::set<Outcome> outcomes;
};

// docs/checks.md: table rows whose first cell is a check id in backticks and
// whose second lists its outcomes.
const std::map<std::string, DocumentedCheck>& documented_checks() {
    static const std::map<std::string, DocumentedCheck> checks = [] {
        std::map<std::string, DocumentedCheck> out;
        std::ifstream in(std::filesystem::path(ANCHORD_SOURCE_DIR) / "docs" / "checks.md");
        static const std::regex row(R"(^\|\s*`([a-z0-9.-]+)`\s*\|\s*([a-z, ]+)\|)");
        std::string line;
        while (std::getline(in, line)) {
            std::smatch m;
            if (!std::regex_search(line, m, row)) continue;
            DocumentedCheck c;
            std::stringstream outcomes(m[2].str());
            std::string word;
            while (std::getline(outcomes, word, ',')) {
                word.erase(std::remove(word.begin(), word.end(), ' '), word.end());
                if (word == "pass") c.outcomes.insert(Outcome::Pass);
                if (word == "fail") c.outcomes.insert(Outcome::Fail);
                if (word == "warn") c.outcomes.insert(Outcome::Warn);
                if (word == "skip") c.outcomes.insert(Outcome::Skip);
            }
            out[m[1].str()] = c;
        }
        return out;
    }();
    return checks;
}

// ---- certificates -------------------------------------------------------------

// A copy of `t` changed by `change` and signed again by `signer`.
TestCert resign(const TestCert& t, const std::function<void(X509*)>& change,
                const TestCert& signer) {
    ossl::X509Ptr x(X509_dup(t.x509.get()));
    change(x.get());
    if (X509_sign(x.get(), signer.key.get(), EVP_sha256()) <= 0) {
        throw std::runtime_error("X509_sign: " + ossl::drain_errors());
    }
    TestCert out;
    out.key = t.key;
    out.der = to_der(x.get());
    out.x509 = std::shared_ptr<X509>(x.release(), X509_free);
    return out;
}

void add_raw_extension(X509* x, const char* oid, bool critical) {
    ossl::Asn1OctetStringPtr value(ASN1_OCTET_STRING_new());
    static const unsigned char kNull[] = {0x05, 0x00};
    ASN1_OCTET_STRING_set(value.get(), kNull, sizeof kNull);
    ASN1_OBJECT* obj = OBJ_txt2obj(oid, 1);
    ossl::X509ExtensionPtr ext(
        X509_EXTENSION_create_by_OBJ(nullptr, obj, critical ? 1 : 0, value.get()));
    ASN1_OBJECT_free(obj);
    if (!ext || X509_add_ext(x, ext.get(), -1) != 1) throw std::runtime_error("add extension");
}

void replace_extension(X509* x, int nid, const std::string& value) {
    int pos = X509_get_ext_by_NID(x, nid, -1);
    if (pos >= 0) X509_EXTENSION_free(X509_delete_ext(x, pos));
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    ossl::X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(x, ext.get(), -1) != 1) throw std::runtime_error("extension");
}

// An EC P-256 key that spells its curve out as explicit parameters.
std::shared_ptr<EVP_PKEY> explicit_curve_key() {
    ossl::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    char group[] = "P-256";
    char encoding[] = "explicit";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, encoding, 0),
        OSSL_PARAM_construct_end()};
    EVP_PKEY* key = nullptr;
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_params(ctx.get(), params) != 1 ||
        EVP_PKEY_generate(ctx.get(), &key) != 1) {
        throw std::runtime_error("explicit EC key: " + ossl::drain_errors());
    }
    return {key, EVP_PKEY_free};
}

std::chrono::sys_seconds now_s() {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

// ---- policy, snapshot, kernel ------------------------------------------------

// ---- scenarios ---------------------------------------------------------------

using Expectation = std::pair<std::string, Outcome>;

struct Scenario {
    std::string name;
    std::function<Verdict()> run;
    std::vector<Expectation> expect;
    bool accepted = false;
};

constexpr Outcome kPass = Outcome::Pass;
constexpr Outcome kFail = Outcome::Fail;
constexpr Outcome kWarn = Outcome::Warn;
constexpr Outcome kSkip = Outcome::Skip;

// A leaf signed by the shared intermediate, from a signing spec changed by `change`.
TestCert leaf_with(const std::function<void(CertSpec&)>& change, KeyType type = KeyType::Rsa2048,
                   std::shared_ptr<EVP_PKEY> key = nullptr) {
    CertSpec spec = testing::signing_spec("test leaf");
    change(spec);
    return make_signed(spec, pki().intermediate, type, std::move(key));
}

// root -> n intermediates (given as snapshot intermediates, not anchors) -> leaf.
struct LongChain {
    std::vector<TestCert> intermediates;  // nearest the root first
    TestCert leaf;
};
LongChain long_chain(int n, std::optional<int> first_path_len = std::nullopt) {
    LongChain out;
    const TestCert* issuer = &pki().root;
    for (int i = 0; i < n; ++i) {
        CertSpec spec = testing::ca_spec("link CA " + std::to_string(i));
        if (i == 0) spec.path_len = first_path_len;
        out.intermediates.push_back(make_signed(spec, *issuer, KeyType::P256));
        issuer = &out.intermediates.back();
    }
    out.leaf = make_signed(testing::signing_spec("long chain leaf"), *issuer);
    return out;
}

Inputs with_links(const LongChain& chain) {
    Inputs s;
    for (const auto& c : chain.intermediates) s.snapshot.intermediates.push_back(cert(c));
    s.snapshot.unguarded = {LogicalKeyring::Ima};
    s.kernel.verifiable = {};
    return s;
}

std::vector<Scenario> scenarios() {
    std::vector<Scenario> out;
    auto add = [&](std::string name, std::function<Verdict()> run, std::vector<Expectation> expect,
                   bool accepted = false) {
        out.push_back({std::move(name), std::move(run), std::move(expect), accepted});
    };

    add(
        "GoodLeafIntoIma", [] { return Inputs{}.run(cert(pki().leaf)); },
        {{"keyring.known", kPass},
         {"keyring.enrollable", kPass},
         {"keyring.unguarded", kPass},
         {"deny.fingerprint", kPass},
         {"deny.tbs", kPass},
         {"deny.kernel-blacklist", kPass},
         {"role.signing", kPass},
         {"ca.basic-constraints", kSkip},
         {"ca.enforcement", kSkip},
         {"usage.required", kPass},
         {"usage.forbidden", kPass},
         {"usage.key-cert-sign", kPass},
         {"algo.key-type", kPass},
         {"algo.key-size", kPass},
         {"hash.allowed", kPass},
         {"kernel.algorithm", kPass},
         {"validity.not-yet-valid", kPass},
         {"validity.not-expired", kPass},
         {"x509.serial", kPass},
         {"x509.names", kPass},
         {"x509.signature-algorithm", kPass},
         {"x509.extensions", kPass},
         {"x509.extension-criticality", kPass},
         {"x509.key-identifiers", kPass},
         {"x509.ca-consistency", kPass},
         {"x509.named-curve", kPass},
         {"chain.issuer-found", kPass},
         {"chain.signature", kPass},
         {"chain.issuer-ca", kPass},
         {"chain.pathlen", kPass},
         {"chain.depth", kPass},
         {"chain.loop", kPass},
         {"chain.anchor", kPass},
         {"kernel.direct-issuer", kPass},
         {"kernel.digsig", kPass},
         {"kernel.ca-enforcement", kSkip}},
        true);

    add("KeyringWithoutPolicyEntry",
        [] {
            Inputs s;
            s.target = LogicalKeyring::Evm;  // the base policy has no evm entry
            return s.run(cert(pki().leaf));
        },
        {{"keyring.known", kFail}, {"deny.fingerprint", kPass}, {"deny.tbs", kPass}});

    add("NotEnrollable",
        [] {
            Inputs s;
            s.target_policy().enrollable = false;
            return s.run(cert(pki().leaf));
        },
        {{"keyring.enrollable", kFail}});

    add(
        "UnguardedKeyring",
        [] {
            Inputs s;
            s.snapshot.unguarded = {LogicalKeyring::Ima};
            return s.run(cert(pki().leaf));
        },
        {{"keyring.unguarded", kWarn}, {"kernel.digsig", kSkip}, {"kernel.direct-issuer", kSkip}},
        true);

    add("DeniedByFingerprint",
        [] {
            Inputs s;
            const auto leaf = cert(pki().leaf);
            s.policy.deny.fingerprints.insert(leaf.info().fingerprint);
            return s.run(leaf);
        },
        {{"deny.fingerprint", kFail}, {"deny.tbs", kPass}});

    add("DeniedByTbsHash",
        [] {
            Inputs s;
            const auto leaf = cert(pki().leaf);
            s.policy.deny.tbs_hashes.insert(leaf.info().tbs_sha256);
            return s.run(leaf);
        },
        {{"deny.tbs", kFail}, {"deny.fingerprint", kPass}});

    add("IssuerOnPolicyDenylist",
        [] {
            Inputs s;
            s.policy.deny.fingerprints.insert(cert(pki().intermediate).info().fingerprint);
            return s.run(cert(pki().leaf));
        },
        {{"deny.fingerprint", kFail}, {"chain.anchor", kPass}});

    add("KernelBlacklistTbs",
        [] {
            Inputs s;
            const auto leaf = cert(pki().leaf);
            s.snapshot.kernel_blacklist_tbs.insert(leaf.info().tbs_sha256);
            return s.run(leaf);
        },
        {{"deny.kernel-blacklist", kFail}});

    add("KernelBlacklistBin",
        [] {
            Inputs s;
            const auto leaf = cert(pki().leaf);
            s.snapshot.kernel_blacklist_bin.insert(leaf.info().fingerprint.digest);
            return s.run(leaf);
        },
        {{"deny.kernel-blacklist", kFail}});

    add("CaIntoIma",
        [] {
            auto ca = make_signed(testing::ca_spec("a CA for ima"), pki().root);
            return Inputs{}.run(cert(ca));
        },
        {{"role.signing", kFail},
         {"usage.required", kFail},
         {"usage.forbidden", kFail},
         {"kernel.digsig", kFail},
         {"chain.anchor", kPass}});

    add(
        "CaIntoImaAllowed",
        [] {
            Inputs s;
            s.target_policy().allow_ca = true;
            s.target_policy().required_usage = 0;
            s.target_policy().forbidden_usage = 0;
            s.kernel.digsig_rule = false;
            return s.run(cert(make_signed(testing::ca_spec("an allowed CA"), pki().root)));
        },
        {{"role.signing", kPass}, {"kernel.digsig", kSkip}}, true);

    add("LeafIntoSecondary",
        [] {
            Inputs s;
            s.target = LogicalKeyring::Secondary;
            return s.run(cert(pki().leaf));
        },
        {{"role.ca", kFail}, {"ca.basic-constraints", kFail}, {"usage.required", kFail}});

    add(
        "LeafIntoSecondaryAllowed",
        [] {
            Inputs s;
            s.target = LogicalKeyring::Secondary;
            s.target_policy().allow_leaf = true;
            s.target_policy().required_usage = 0;
            return s.run(cert(pki().leaf));
        },
        {{"role.ca", kPass}, {"ca.basic-constraints", kSkip}}, true);

    add(
        "CaIntoSecondary",
        [] {
            Inputs s;
            s.target = LogicalKeyring::Secondary;
            return s.run(cert(make_signed(testing::ca_spec("a secondary CA"), pki().root)));
        },
        {{"role.ca", kPass},
         {"ca.basic-constraints", kPass},
         {"usage.required", kPass},
         {"usage.key-cert-sign", kPass},
         {"kernel.digsig", kSkip},
         {"kernel.ca-enforcement", kSkip}},
        true);

    add("CaWithoutKeyCertSignIntoSecondary",
        [] {
            Inputs s;
            s.target = LogicalKeyring::Secondary;
            s.target_policy().required_usage = 0;
            CertSpec spec = testing::ca_spec("a CA that may not sign");
            spec.key_usage = key_usage::crl_sign;
            return s.run(cert(make_signed(spec, pki().root)));
        },
        {{"usage.key-cert-sign", kFail}, {"role.ca", kPass}});

    add("IssuerKeyUsageWithoutKeyCertSign",
        [] {
            CertSpec spec = testing::ca_spec("issuer without keyCertSign");
            spec.key_usage = key_usage::digital_signature;
            auto issuer = make_signed(spec, pki().root);
            auto leaf = make_signed(testing::signing_spec("leaf"), issuer);
            Inputs s;
            s.snapshot.certificates[LogicalKeyring::Secondary].push_back(cert(issuer));
            return s.run(cert(leaf));
        },
        {{"usage.key-cert-sign", kFail}, {"chain.issuer-ca", kPass}});

    add("Rsa1024Leaf",
        [] { return Inputs{}.run(cert(leaf_with([](CertSpec&) {}, KeyType::Rsa1024))); },
        {{"algo.key-size", kFail}, {"algo.key-type", kPass}});

    add("Ed25519LeafNotAllowed",
        [] { return Inputs{}.run(cert(leaf_with([](CertSpec&) {}, KeyType::Ed25519))); },
        {{"algo.key-type", kFail}});

    add("Secp256k1LeafNotAllowed",
        [] { return Inputs{}.run(cert(leaf_with([](CertSpec&) {}, KeyType::Secp256k1))); },
        {{"algo.key-type", kFail}});

    add("Sha1SignedLeaf",
        [] { return Inputs{}.run(cert(leaf_with([](CertSpec& s) { s.digest = "SHA1"; }))); },
        {{"hash.allowed", kFail}});

    add(
        "Sha1SignedLeafListedByPolicy",
        [] {
            Inputs s;
            s.target_policy().hashes.push_back(HashAlgorithm::Sha1);
            return s.run(cert(leaf_with([](CertSpec& c) { c.digest = "SHA1"; })));
        },
        {{"hash.allowed", kWarn}}, true);

    add("EcdsaIssuerOnKernelWithoutEcdsa",
        [] {
            auto issuer = make_signed(testing::ca_spec("P-256 CA"), pki().root, KeyType::P256);
            auto leaf = make_signed(testing::signing_spec("leaf of a P-256 CA"), issuer);
            Inputs s;
            s.snapshot.certificates[LogicalKeyring::Secondary].push_back(cert(issuer));
            return s.run(cert(leaf));
        },
        {{"kernel.algorithm", kFail}, {"chain.signature", kPass}, {"hash.allowed", kPass}});

    add(
        "EcdsaIssuerOnUnguardedKeyring",
        [] {
            auto issuer = make_signed(testing::ca_spec("P-256 CA"), pki().root, KeyType::P256);
            auto leaf = make_signed(testing::signing_spec("leaf of a P-256 CA"), issuer);
            Inputs s;
            s.snapshot.unguarded = {LogicalKeyring::Ima};
            s.snapshot.certificates[LogicalKeyring::Secondary].push_back(cert(issuer));
            return s.run(cert(leaf));
        },
        {{"kernel.algorithm", kWarn}}, true);

    add(
        "KernelAlgorithmsUnknown",
        [] {
            Inputs s;
            s.kernel.verifiable = {};
            return s.run(cert(pki().leaf));
        },
        {{"kernel.algorithm", kSkip}}, true);

    add("ExpiredLeaf",
        [] {
            return Inputs{}.run(cert(leaf_with([](CertSpec& s) {
                s.not_before = now_s() - 48h;
                s.not_after = now_s() - 24h;
            })));
        },
        {{"validity.not-expired", kFail}, {"validity.not-yet-valid", kPass}});

    add("NotYetValidLeaf",
        [] {
            return Inputs{}.run(cert(leaf_with([](CertSpec& s) {
                s.not_before = now_s() + 24h;
                s.not_after = now_s() + 48h;
            })));
        },
        {{"validity.not-yet-valid", kFail}, {"validity.not-expired", kPass}});

    add(
        "ExpiredWithinClockSkew",
        [] {
            return Inputs{}.run(cert(leaf_with([](CertSpec& s) {
                s.not_before = now_s() - 48h;
                s.not_after = now_s() - 60s;  // the base skew is 300 s
            })));
        },
        {{"validity.not-expired", kPass}}, true);

    add(
        "ValidityNotEnforced",
        [] {
            Inputs s;
            s.target_policy().enforce_validity = false;
            return s.run(cert(leaf_with([](CertSpec& c) {
                c.not_before = now_s() - 48h;
                c.not_after = now_s() - 24h;
            })));
        },
        {{"validity.not-expired", kSkip}, {"validity.not-yet-valid", kSkip}}, true);

    add("TamperedSignature",
        [] { return Inputs{}.run(cert(testing::tamper_signature(pki().leaf.der))); },
        {{"chain.signature", kFail}, {"chain.issuer-found", kPass}, {"chain.anchor", kPass}});

    add("WrongAuthorityKeyId",
        [] {
            return Inputs{}.run(cert(
                leaf_with([](CertSpec& s) { s.authority_key_id_override = Bytes(20, 0x42); })));
        },
        {{"chain.issuer-found", kFail},
         {"chain.anchor", kFail},
         {"chain.signature", kSkip},
         {"kernel.direct-issuer", kSkip}});

    add(
        "OpaqueKeyBySubjectKeyId",
        [] {
            Inputs s;
            const auto root = cert(pki().root);
            s.snapshot.certificates.clear();
            s.snapshot.opaque_keys[LogicalKeyring::Builtin] = {
                OpaqueKey{KeySerial{1234}, "anchord test root: ...", root.info().subject_key_id}};
            return s.run(cert(make_signed(testing::signing_spec("leaf of root"), pki().root)));
        },
        {{"chain.issuer-found", kPass},
         {"chain.signature", kSkip},
         {"chain.anchor", kPass},
         {"chain.issuer-ca", kPass}},
        true);

    add(
        "SelfSignedAnchorVouchesForItself",
        [] {
            Inputs s;
            s.target = LogicalKeyring::Secondary;
            return s.run(cert(pki().root));  // already in builtin, which secondary trusts
        },
        {{"chain.issuer-found", kPass}, {"chain.signature", kPass}, {"chain.anchor", kPass}}, true);

    add("SelfSignedOutsideTrustedKeyrings",
        [] {
            Inputs s;
            s.target = LogicalKeyring::Secondary;
            return s.run(cert(make_self_signed(testing::ca_spec("a stranger"))));
        },
        {{"chain.issuer-found", kFail}, {"chain.anchor", kFail}});

    add("CrossSignedLoop",
        [] {
            auto key_a = testing::generate_key(KeyType::P256);
            auto key_b = testing::generate_key(KeyType::P256);
            auto a0 = make_self_signed(testing::ca_spec("loop CA A"), KeyType::P256, key_a);
            auto b = make_signed(testing::ca_spec("loop CA B"), a0, KeyType::P256, key_b);
            auto a = make_signed(testing::ca_spec("loop CA A"), b, KeyType::P256, key_a);
            auto leaf = make_signed(testing::signing_spec("leaf in a loop"), a);
            Inputs s;
            s.snapshot.intermediates = {cert(a), cert(b)};
            return s.run(cert(leaf));
        },
        {{"chain.loop", kFail}, {"chain.anchor", kFail}, {"chain.issuer-found", kPass}});

    add("ChainTooLong",
        [] {
            auto chain = long_chain(3);
            Inputs s = with_links(chain);
            s.target_policy().max_chain_depth = 2;
            return s.run(cert(chain.leaf));
        },
        {{"chain.depth", kFail}});

    add(
        "LongChainWithinDepth",
        [] {
            auto chain = long_chain(3);
            return with_links(chain).run(cert(chain.leaf));
        },
        {{"chain.depth", kPass}, {"chain.anchor", kPass}, {"kernel.direct-issuer", kSkip}}, true);

    add("DirectIssuerNotTrustedOnGuardedKeyring",
        [] {
            auto chain = long_chain(1);
            Inputs s = with_links(chain);
            s.snapshot.unguarded = {};
            return s.run(cert(chain.leaf));
        },
        {{"kernel.direct-issuer", kFail}, {"chain.anchor", kPass}});

    add(
        "PinnedIssuerIsAnAnchor",
        [] {
            // A CA held in platform, which ima does not trust, vouches because
            // the policy pins it.
            auto issuer = make_self_signed(testing::ca_spec("a pinned CA"));
            Inputs s;
            s.snapshot.unguarded = {LogicalKeyring::Ima};
            s.snapshot.certificates[LogicalKeyring::Platform] = {cert(issuer)};
            s.target_policy().pinned_issuers = {cert(issuer).info().fingerprint};
            return s.run(cert(make_signed(testing::signing_spec("leaf of a pinned CA"), issuer)));
        },
        {{"chain.anchor", kPass}, {"chain.issuer-found", kPass}}, true);

    add("PinnedIssuerOutsideTrustedKeyringsOnGuardedKeyring",
        [] {
            // The kernel looks only in the keyrings it trusts, not at pins.
            auto issuer = make_self_signed(testing::ca_spec("a pinned CA"));
            Inputs s;
            s.snapshot.certificates[LogicalKeyring::Platform] = {cert(issuer)};
            s.target_policy().pinned_issuers = {cert(issuer).info().fingerprint};
            return s.run(cert(make_signed(testing::signing_spec("leaf of a pinned CA"), issuer)));
        },
        {{"chain.anchor", kPass}, {"kernel.direct-issuer", kFail}});

    add("UnpinnedCaOutsideTrustedKeyrings",
        [] {
            auto issuer = make_self_signed(testing::ca_spec("a platform CA"));
            Inputs s;
            s.snapshot.unguarded = {LogicalKeyring::Ima};
            s.snapshot.certificates[LogicalKeyring::Platform] = {cert(issuer)};
            return s.run(cert(make_signed(testing::signing_spec("leaf of a platform CA"), issuer)));
        },
        {{"chain.anchor", kFail}, {"chain.issuer-found", kPass}});

    add("PathLenZeroWithExtraIntermediate",
        [] {
            auto chain = long_chain(2, 0);
            return with_links(chain).run(cert(chain.leaf));
        },
        {{"chain.pathlen", kFail}, {"chain.anchor", kPass}});

    add("IssuerNotCa",
        [] {
            CertSpec spec = testing::signing_spec("not a CA");
            spec.key_usage = std::nullopt;
            auto issuer = make_signed(spec, pki().root);
            auto leaf = make_signed(testing::signing_spec("leaf of a non-CA"), issuer);
            Inputs s;
            s.snapshot.certificates[LogicalKeyring::Secondary].push_back(cert(issuer));
            return s.run(cert(leaf));
        },
        {{"chain.issuer-ca", kFail}, {"chain.signature", kPass}});

    add("LeafWithoutDigitalSignatureUnderDigsig",
        [] {
            Inputs s;
            s.target_policy().required_usage = 0;
            return s.run(
                cert(leaf_with([](CertSpec& c) { c.key_usage = key_usage::key_encipherment; })));
        },
        {{"kernel.digsig", kFail}});

    add("LeafWithoutKeyUsageUnderDigsig",
        [] {
            Inputs s;
            s.target_policy().required_usage = 0;
            return s.run(cert(leaf_with([](CertSpec& c) { c.key_usage = std::nullopt; })));
        },
        {{"kernel.digsig", kFail}, {"usage.forbidden", kPass}});

    add(
        "NoKeyUsageWithoutDigsigRule",
        [] {
            Inputs s;
            s.target_policy().required_usage = 0;
            s.kernel.digsig_rule = false;
            return s.run(cert(leaf_with([](CertSpec& c) { c.key_usage = std::nullopt; })));
        },
        {{"kernel.digsig", kSkip}, {"usage.required", kPass}}, true);

    add("LeafWithoutKeyUsageRequired",
        [] {
            return Inputs{}.run(cert(leaf_with([](CertSpec& c) { c.key_usage = std::nullopt; })));
        },
        {{"usage.required", kFail}});

    add("LeafIntoMachineUnderKernelCaEnforcement",
        [] {
            Inputs s;
            s.target = LogicalKeyring::Machine;
            s.target_policy().allow_leaf = true;
            s.target_policy().required_usage = 0;
            s.kernel.ca_machine_keyring = true;
            return s.run(cert(make_signed(testing::signing_spec("a MOK leaf"), pki().root)));
        },
        {{"kernel.ca-enforcement", kFail}, {"role.ca", kPass}});

    add(
        "CaIntoMachineUnderKernelCaEnforcement",
        [] {
            Inputs s;
            s.target = LogicalKeyring::Machine;
            s.kernel.ca_machine_keyring = true;
            s.kernel.ca_machine_keyring_max = true;
            return s.run(cert(make_signed(testing::ca_spec("a MOK CA"), pki().root)));
        },
        {{"kernel.ca-enforcement", kPass}}, true);

    add("DigitalSignatureCaUnderCaMax",
        [] {
            Inputs s;
            s.target = LogicalKeyring::Machine;
            s.target_policy().ca_enforcement = CaEnforcement::CaMax;
            s.kernel.ca_machine_keyring = true;
            s.kernel.ca_machine_keyring_max = true;
            CertSpec spec = testing::ca_spec("a MOK CA that also signs code");
            spec.key_usage = key_usage::key_cert_sign | key_usage::digital_signature;
            return s.run(cert(make_signed(spec, pki().root)));
        },
        {{"kernel.ca-enforcement", kFail}, {"ca.enforcement", kFail}});

    add("PolicyCaEnforcement",
        [] {
            Inputs s;
            s.target = LogicalKeyring::Machine;
            s.target_policy().ca_enforcement = CaEnforcement::Ca;
            s.target_policy().allow_leaf = true;
            s.target_policy().required_usage = 0;
            return s.run(cert(make_signed(testing::signing_spec("a MOK leaf"), pki().root)));
        },
        {{"ca.enforcement", kFail}, {"kernel.ca-enforcement", kSkip}});

    add(
        "PolicyCaEnforcementSatisfied",
        [] {
            Inputs s;
            s.target = LogicalKeyring::Machine;
            s.target_policy().ca_enforcement = CaEnforcement::CaMax;
            return s.run(cert(make_signed(testing::ca_spec("a MOK CA"), pki().root)));
        },
        {{"ca.enforcement", kPass}}, true);

    add("SerialZero",
        [] { return Inputs{}.run(cert(leaf_with([](CertSpec& s) { s.serial = 0; }))); },
        {{"x509.serial", kFail}});

    add("EmptyIssuerName",
        [] {
            auto leaf = resign(
                pki().leaf,
                [](X509* x) {
                    ossl::X509NamePtr empty(X509_NAME_new());
                    X509_set_issuer_name(x, empty.get());
                },
                pki().intermediate);
            return Inputs{}.run(cert(leaf));
        },
        {{"x509.names", kFail}});

    add("SignatureAlgorithmMismatch",
        [] {
            // The outer AlgorithmIdentifier says sha512WithRSAEncryption while
            // the signed part says sha256WithRSAEncryption. The reader refuses
            // this, so the certificate is put together by hand: the engine
            // must not rely on the reader for it.
            Bytes der = pki().leaf.der;
            static const Bytes kSha256Rsa = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                             0xf7, 0x0d, 0x01, 0x01, 0x0b};
            auto it = std::find_end(der.begin(), der.end(), kSha256Rsa.begin(), kSha256Rsa.end());
            if (it == der.end()) throw std::runtime_error("no sha256WithRSAEncryption OID");
            *(it + static_cast<long>(kSha256Rsa.size()) - 1) = 0x0d;
            const unsigned char* p = der.data();
            std::shared_ptr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(der.size())),
                                    X509_free);
            if (!x) throw std::runtime_error("d2i_X509");
            Certificate c(der, x, cert(pki().leaf).info());
            return Inputs{}.run(c);
        },
        {{"x509.signature-algorithm", kFail}});

    add("UnknownCriticalExtension",
        [] {
            auto leaf = resign(
                pki().leaf, [](X509* x) { add_raw_extension(x, "1.3.6.1.4.1.55738.666.1", true); },
                pki().intermediate);
            return Inputs{}.run(cert(leaf));
        },
        {{"x509.extensions", kFail}});

    add(
        "UnknownNonCriticalExtension",
        [] {
            auto leaf = resign(
                pki().leaf, [](X509* x) { add_raw_extension(x, "1.3.6.1.4.1.55738.666.1", false); },
                pki().intermediate);
            return Inputs{}.run(cert(leaf));
        },
        {{"x509.extensions", kPass}}, true);

    add("CriticalSubjectKeyId",
        [] {
            auto leaf = resign(
                pki().leaf,
                [](X509* x) { replace_extension(x, NID_subject_key_identifier, "critical,hash"); },
                pki().intermediate);
            return Inputs{}.run(cert(leaf));
        },
        {{"x509.extension-criticality", kFail}});

    add("IssuerWithNonCriticalBasicConstraints",
        [] {
            auto issuer = resign(
                make_signed(testing::ca_spec("CA with lax basicConstraints"), pki().root),
                [](X509* x) { replace_extension(x, NID_basic_constraints, "CA:TRUE"); },
                pki().root);
            auto leaf = make_signed(testing::signing_spec("leaf"), issuer);
            Inputs s;
            s.snapshot.certificates[LogicalKeyring::Secondary].push_back(cert(issuer));
            return s.run(cert(leaf));
        },
        {{"x509.extension-criticality", kFail}, {"chain.issuer-ca", kPass}});

    add("LeafWithoutAuthorityKeyId",
        [] {
            return Inputs{}.run(cert(leaf_with([](CertSpec& s) { s.authority_key_id = false; })));
        },
        {{"x509.key-identifiers", kFail}, {"chain.issuer-found", kPass}});

    add("KeyCertSignWithoutCa",
        [] {
            return Inputs{}.run(cert(leaf_with([](CertSpec& s) {
                s.key_usage = key_usage::digital_signature | key_usage::key_cert_sign;
            })));
        },
        {{"x509.ca-consistency", kFail}, {"usage.forbidden", kFail}});

    add("ExplicitCurveLeaf",
        [] {
            Inputs s;
            s.kernel.verifiable = {};
            return s.run(cert(leaf_with([](CertSpec&) {}, KeyType::P256, explicit_curve_key())));
        },
        {{"x509.named-curve", kFail}});

    return out;
}

// gtest prints a failing parameter with this, instead of its bytes.
void PrintTo(const Scenario& s, std::ostream* os) {
    *os << s.name;
}

class VerdictScenario : public ::testing::TestWithParam<Scenario> {};

TEST_P(VerdictScenario, ChecksHaveTheExpectedOutcomes) {
    const Scenario& scenario = GetParam();
    const Verdict v = scenario.run();
    SCOPED_TRACE(describe(v));
    // ANCHORD_VERDICT_VERBOSE=1 prints every verdict, to read the reasons.
    if (const char* verbose = std::getenv("ANCHORD_VERDICT_VERBOSE"); verbose && *verbose) {
        std::cout << scenario.name << ": " << describe(v);
    }

    for (const auto& [check, outcome] : scenario.expect) {
        const Check* c = v.find(check);
        ASSERT_NE(c, nullptr) << "check " << check << " did not run";
        EXPECT_EQ(to_string(c->outcome), to_string(outcome)) << "check " << check;
    }
    EXPECT_EQ(v.accepted, scenario.accepted);

    // Invariants of every verdict.
    const bool any_failed = std::any_of(v.checks.begin(), v.checks.end(),
                                        [](const Check& c) { return c.outcome == Outcome::Fail; });
    EXPECT_EQ(v.accepted, !any_failed);
    std::set<std::string> seen;
    for (const auto& c : v.checks) {
        EXPECT_TRUE(documented_checks().contains(c.id)) << c.id << " is not in docs/checks.md";
        EXPECT_TRUE(seen.insert(c.id).second) << c.id << " reported twice";
        EXPECT_FALSE(c.reason.empty()) << c.id << " has no reason";
        EXPECT_EQ(c.reason.find('\n'), std::string::npos) << c.id << "'s reason is not one line";
        if (auto doc = documented_checks().find(c.id); doc != documented_checks().end()) {
            EXPECT_TRUE(doc->second.outcomes.contains(c.outcome))
                << c.id << " gave " << to_string(c.outcome) << ", not documented for it";
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Verdict, VerdictScenario, ::testing::ValuesIn(scenarios()),
                         [](const ::testing::TestParamInfo<Scenario>& info) {
                             return info.param.name;
                         });

// Every documented check has a scenario that passes it and one that fails
// it (a warning for a check that never fails), and the scenarios name no
// undocumented check.
TEST(VerdictCoverage, EveryCheckHasAPassingAndAFailingScenario) {
    const auto& docs = documented_checks();
    ASSERT_GT(docs.size(), 30u) << "docs/checks.md did not parse";
    std::map<std::string, std::set<Outcome>> covered;
    for (const auto& s : scenarios()) {
        for (const auto& [check, outcome] : s.expect) {
            EXPECT_TRUE(docs.contains(check)) << s.name << " expects undocumented " << check;
            covered[check].insert(outcome);
        }
    }
    for (const auto& [check, doc] : docs) {
        const Outcome bad = doc.outcomes.contains(Outcome::Fail) ? Outcome::Fail : Outcome::Warn;
        EXPECT_TRUE(covered[check].contains(Outcome::Pass)) << check << " has no passing scenario";
        EXPECT_TRUE(covered[check].contains(bad))
            << check << " has no " << to_string(bad) << "ing scenario";
    }
}

// ---- what the verdict says besides the checks ------------------------------------

TEST(VerdictChain, ListsTheChainEnrolleeFirstAnchorLast) {
    const auto chain = long_chain(3);
    const Verdict v = with_links(chain).run(cert(chain.leaf));
    SCOPED_TRACE(describe(v));
    ASSERT_TRUE(v.accepted);
    ASSERT_EQ(v.chain.size(), 5u);
    EXPECT_EQ(v.chain[0], cert(chain.leaf).info().fingerprint);
    EXPECT_EQ(v.chain[1], cert(chain.intermediates[2]).info().fingerprint);
    EXPECT_EQ(v.chain[2], cert(chain.intermediates[1]).info().fingerprint);
    EXPECT_EQ(v.chain[3], cert(chain.intermediates[0]).info().fingerprint);
    EXPECT_EQ(v.chain[4], cert(pki().root).info().fingerprint);
    EXPECT_FALSE(v.opaque_anchor);
}

TEST(VerdictChain, StopsAtTheFirstAnchor) {
    // The intermediate is in secondary, which ima trusts: the chain ends there
    // even though the root above it is trusted too.
    const Verdict v = Inputs{}.run(cert(pki().leaf));
    ASSERT_TRUE(v.accepted) << describe(v);
    ASSERT_EQ(v.chain.size(), 2u);
    EXPECT_EQ(v.chain[1], cert(pki().intermediate).info().fingerprint);
}

TEST(VerdictChain, AnchorIsTrustedByMembershipNotBySelfSignature) {
    // Only the (not self-signed) intermediate is trusted: it is an anchor.
    Inputs s;
    s.snapshot.certificates.erase(LogicalKeyring::Builtin);
    const Verdict v = s.run(cert(pki().leaf));
    EXPECT_TRUE(v.accepted) << describe(v);
}

TEST(VerdictChain, OpaqueAnchorIsReportedBySerial) {
    Inputs s;
    s.snapshot.certificates.clear();
    s.snapshot.opaque_keys[LogicalKeyring::Secondary] = {
        OpaqueKey{KeySerial{777}, "intermediate", cert(pki().intermediate).info().subject_key_id}};
    const Verdict v = s.run(cert(pki().leaf));
    ASSERT_TRUE(v.accepted) << describe(v);
    ASSERT_TRUE(v.opaque_anchor.has_value());
    EXPECT_EQ(v.opaque_anchor->value, 777);
    ASSERT_EQ(v.chain.size(), 1u);
    EXPECT_EQ(v.chain[0], cert(pki().leaf).info().fingerprint);
}

TEST(VerdictChain, PrefersAValidIssuerOverABrokenOne) {
    // Two certificates with the intermediate's name and key identifier: one
    // expired copy in secondary and the good one; the walk must pick the
    // good one whichever comes first.
    CertSpec spec = testing::ca_spec("anchord test intermediate");
    spec.not_before = now_s() - 48h;
    spec.not_after = now_s() - 24h;
    auto expired = make_signed(spec, pki().root, KeyType::Rsa2048, pki().intermediate.key);
    Inputs s;
    s.snapshot.certificates[LogicalKeyring::Secondary] = {cert(expired), cert(pki().intermediate)};
    const Verdict v = s.run(cert(pki().leaf));
    ASSERT_TRUE(v.accepted) << describe(v);
    EXPECT_EQ(v.chain.back(), cert(pki().intermediate).info().fingerprint);
}

TEST(VerdictChain, BacktracksPastADeadEnd) {
    // Two intermediates share a name and key: one was issued by an unknown
    // CA (a dead end), the other by the root. Both are mere links.
    auto stranger = make_self_signed(testing::ca_spec("a stranger CA"));
    auto key = testing::generate_key(KeyType::P256);
    auto dead = make_signed(testing::ca_spec("twin CA"), stranger, KeyType::P256, key);
    auto good = make_signed(testing::ca_spec("twin CA"), pki().root, KeyType::P256, key);
    auto leaf = make_signed(testing::signing_spec("leaf of twins"), good);
    Inputs s;
    s.snapshot.unguarded = {LogicalKeyring::Ima};
    s.kernel.verifiable = {};
    s.snapshot.intermediates = {cert(dead), cert(good)};
    const Verdict v = s.run(cert(leaf));
    ASSERT_TRUE(v.accepted) << describe(v);
    ASSERT_EQ(v.chain.size(), 3u);
    EXPECT_EQ(v.chain[1], cert(good).info().fingerprint);
}

TEST(VerdictChain, DenseGraphIsBounded) {
    // Thirty expired CAs with one name and one key, each signed by another:
    // every one may issue every other, so the paths are countless and all
    // flawed. The search must still end, with a chain to the root and the
    // expiry as the reason.
    auto key = testing::generate_key(KeyType::P256);
    CertSpec spec = testing::ca_spec("dense CA");
    spec.not_before = now_s() - 48h;
    spec.not_after = now_s() - 24h;
    std::vector<TestCert> cas{make_signed(spec, pki().root, KeyType::P256, key)};
    for (int i = 1; i < 30; ++i) cas.push_back(make_signed(spec, cas.back(), KeyType::P256, key));
    auto leaf = make_signed(testing::signing_spec("leaf of a dense graph"), cas.back());
    Inputs s;
    s.snapshot.unguarded = {LogicalKeyring::Ima};
    s.kernel.verifiable = {};
    for (const auto& c : cas) s.snapshot.intermediates.push_back(cert(c));
    const Verdict v = s.run(cert(leaf));
    EXPECT_FALSE(v.accepted);
    ASSERT_NE(v.find("chain.anchor"), nullptr);
    EXPECT_EQ(v.find("chain.anchor")->outcome, Outcome::Pass) << describe(v);
    EXPECT_EQ(v.find("validity.not-expired")->outcome, Outcome::Fail) << describe(v);
}

TEST(VerdictRouting, MachineCaEnforcementRoutesALeafToPlatform) {
    Inputs s;
    s.target = LogicalKeyring::Machine;
    s.target_policy().allow_leaf = true;
    s.kernel.ca_machine_keyring = true;
    const Verdict v = s.run(cert(make_signed(testing::signing_spec("a MOK leaf"), pki().root)));
    EXPECT_FALSE(v.accepted);
    ASSERT_TRUE(v.belongs_in.has_value()) << describe(v);
    EXPECT_EQ(*v.belongs_in, LogicalKeyring::Platform);
}

TEST(VerdictRouting, PolicyCaEnforcementRoutesALeafToPlatform) {
    Inputs s;
    s.target = LogicalKeyring::Machine;
    s.target_policy().allow_leaf = true;
    s.target_policy().ca_enforcement = CaEnforcement::Ca;
    const Verdict v = s.run(cert(make_signed(testing::signing_spec("a MOK leaf"), pki().root)));
    ASSERT_TRUE(v.belongs_in.has_value()) << describe(v);
    EXPECT_EQ(*v.belongs_in, LogicalKeyring::Platform);
}

TEST(VerdictRouting, NoRoutingOutsideMachine) {
    Inputs s;
    s.target = LogicalKeyring::Secondary;
    s.target_policy().ca_enforcement = CaEnforcement::Ca;
    const Verdict v = s.run(cert(pki().leaf));
    EXPECT_FALSE(v.accepted);
    EXPECT_FALSE(v.belongs_in.has_value());
}

TEST(VerdictOutcome, NamesAreStable) {
    EXPECT_EQ(to_string(Outcome::Pass), "pass");
    EXPECT_EQ(to_string(Outcome::Fail), "fail");
    EXPECT_EQ(to_string(Outcome::Warn), "warn");
    EXPECT_EQ(to_string(Outcome::Skip), "skip");
}

TEST(VerdictOutcome, CheckOrderIsStable) {
    // The checks run in one fixed order, whatever the certificate.
    const Verdict good = Inputs{}.run(cert(pki().leaf));
    const Verdict bad = Inputs{}.run(cert(testing::tamper_signature(pki().leaf.der)));
    ASSERT_EQ(good.checks.size(), bad.checks.size());
    for (std::size_t i = 0; i < good.checks.size(); ++i) {
        EXPECT_EQ(good.checks[i].id, bad.checks[i].id);
    }
}

}  // namespace
}  // namespace anchord

namespace anchord {
namespace {

// The shipped default policy, as the daemon loads it, judges the test PKI
// as the kernel's model says it should.
TEST(VerdictDefaultPolicy, AcceptsASigningLeafForImaAndRefusesACa) {
    Inputs s;
    s.policy = parse_policy(default_policy_text());
    const Verdict leaf = s.run(cert(pki().leaf));
    EXPECT_TRUE(leaf.accepted) << describe(leaf);

    const Verdict ca = s.run(cert(pki().intermediate));
    EXPECT_FALSE(ca.accepted);
    ASSERT_NE(ca.find("role.signing"), nullptr);
    EXPECT_EQ(ca.find("role.signing")->outcome, Outcome::Fail);
    EXPECT_EQ(ca.find("kernel.digsig")->outcome, Outcome::Fail);
}

TEST(VerdictDefaultPolicy, AcceptsACaForSecondary) {
    Inputs s;
    s.policy = parse_policy(default_policy_text());
    s.target = LogicalKeyring::Secondary;
    const Verdict v = s.run(cert(make_signed(testing::ca_spec("a new CA"), pki().root)));
    EXPECT_TRUE(v.accepted) << describe(v);
}

}  // namespace
}  // namespace anchord
