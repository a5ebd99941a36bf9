// What the verdict tests share: certificates read back from the test PKI,
// the shared chain, and the small policy, trust snapshot and kernel that one
// evaluation starts from.
#pragma once

#include <openssl/x509.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>

#include "anchord/certificate.hpp"
#include "anchord/policy.hpp"
#include "anchord/verdict.hpp"
#include "test_pki.hpp"

namespace anchord::testing {

inline Certificate cert(const Bytes& der) {
    return parse_der_certificate(der);
}
inline Certificate cert(const TestCert& t) {
    return cert(t.der);
}

// The shared PKI: RSA-2048 root (in builtin) -> intermediate (in secondary)
// -> signing leaf. Built once per process.
inline const Chain& pki() {
    static const Chain chain = make_chain();
    return chain;
}

inline KeyringPolicy keyring(LogicalKeyring name, std::string kernel_name, KeyringRole role) {
    using namespace std::chrono_literals;
    KeyringPolicy k;
    k.name = name;
    k.kernel_keyring = std::move(kernel_name);
    k.role = role;
    k.enrollable = true;
    k.trusted_by = {LogicalKeyring::Builtin, LogicalKeyring::Secondary};
    k.algorithms = {AlgorithmRule{KeyAlgorithm::Rsa, 2048, {}},
                    AlgorithmRule{KeyAlgorithm::Ecdsa, 256, {"P-256", "P-384"}}};
    k.hashes = {HashAlgorithm::Sha256, HashAlgorithm::Sha384, HashAlgorithm::Sha512};
    k.enforce_validity = true;
    k.clock_skew = 300s;
    k.max_chain_depth = 4;
    if (role == KeyringRole::Signing) {
        k.required_usage = key_usage::digital_signature;
        k.forbidden_usage = key_usage::key_cert_sign;
    } else {
        k.required_usage = key_usage::key_cert_sign;
    }
    return k;
}

// builtin (anchors only), secondary and machine (CA), ima (signing).
inline Policy base_policy() {
    Policy p;
    auto builtin = keyring(LogicalKeyring::Builtin, ".builtin_trusted_keys", KeyringRole::Ca);
    builtin.enrollable = false;
    builtin.trusted_by = {};
    p.keyrings[LogicalKeyring::Builtin] = builtin;
    p.keyrings[LogicalKeyring::Secondary] =
        keyring(LogicalKeyring::Secondary, ".secondary_trusted_keys", KeyringRole::Ca);
    auto machine = keyring(LogicalKeyring::Machine, ".machine", KeyringRole::Ca);
    machine.trusted_by = {LogicalKeyring::Builtin};
    p.keyrings[LogicalKeyring::Machine] = machine;
    p.keyrings[LogicalKeyring::Ima] = keyring(LogicalKeyring::Ima, ".ima", KeyringRole::Signing);
    return p;
}

// The shared PKI's root in builtin, its intermediate in secondary.
inline TrustSnapshot base_snapshot() {
    TrustSnapshot s;
    s.certificates[LogicalKeyring::Builtin] = {cert(pki().root)};
    s.certificates[LogicalKeyring::Secondary] = {cert(pki().intermediate)};
    return s;
}

// A 6.8 kernel with a trusted .ima/.evm and the digsig rule, verifying RSA.
inline KernelProfile base_kernel() {
    KernelProfile k;
    k.major = 6;
    k.minor = 8;
    k.integrity_trusted_keyring = true;
    k.digsig_rule = true;
    k.verifiable = {KeyAlgorithm::Rsa};
    return k;
}

// One evaluation's inputs, starting from the base and changed per test.
struct Inputs {
    Policy policy = base_policy();
    TrustSnapshot snapshot = base_snapshot();
    KernelProfile kernel = base_kernel();
    LogicalKeyring target = LogicalKeyring::Ima;
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now();

    KeyringPolicy& target_policy() { return policy.keyrings.at(target); }
    Verdict run(const Certificate& c) const {
        return evaluate(c, target, policy, snapshot, kernel, now);
    }
};

// Every check of a verdict, a line each: for a failing assertion's message.
inline std::string describe(const Verdict& v) {
    std::string out = v.accepted ? "accepted\n" : "refused\n";
    for (const auto& c : v.checks) {
        out += "  " + c.id + " " + std::string(to_string(c.outcome)) + ": " + c.reason + "\n";
    }
    return out;
}

}  // namespace anchord::testing
