// Fuzzes the certificate and bundle reader (read_bundle and what it calls:
// the strict DER checks, the PEM scanner, the inspection of each certificate)
// and the verdict engine over what it reads. Any exception other than
// anchord::Error, any broken promise of certificate.hpp and any sanitizer
// report is a finding.
#include <openssl/pem.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "anchord/certificate.hpp"
#include "anchord/error.hpp"
#include "anchord/openssl.hpp"
#include "anchord/policy.hpp"
#include "anchord/types.hpp"
#include "anchord/verdict.hpp"

namespace {

using namespace anchord;

[[noreturn]] void broken(const char* promise) {
    std::fprintf(stderr, "fuzz_certificate: broken promise: %s\n", promise);
    std::abort();
}

void expect(bool ok, const char* promise) {
    if (!ok) broken(promise);
}

// Whole-input failures may only be these two codes (certificate.hpp).
void expect_input_error(const Error& e) {
    expect(e.code() == ErrorCode::InvalidArgument || e.code() == ErrorCode::InvalidCertificate,
           "read_bundle throws only InvalidArgument or InvalidCertificate");
}

// Every value of the inspection, turned into text the way the daemon and
// the client print it: a bad enum value or an unterminated string shows up
// here under the sanitizers rather than in anchorctl's output.
std::size_t touch(const CertificateInfo& info) {
    std::size_t n = info.subject.size() + info.issuer.size() + info.serial_hex.size() +
                    info.fingerprint.to_string().size() + info.tbs_sha256.hex().size() +
                    info.kernel_description.size();
    if (info.subject_key_id) n += to_hex(*info.subject_key_id).size();
    if (info.authority_key_id) n += to_hex(*info.authority_key_id).size();
    if (info.authority_issuer) n += info.authority_issuer->size();
    if (info.authority_serial_hex) n += info.authority_serial_hex->size();
    n += to_string(info.public_key.algorithm).size() + info.public_key.curve.size() +
         info.public_key.oid.size();
    n += info.signature.name.size() + info.signature.oid.size() +
         to_string(info.signature.key_algorithm).size() + to_string(info.signature.hash).size();
    if (info.key_usage) {
        for (unsigned bit = 0; bit < 16; ++bit) {
            const auto mask = static_cast<std::uint16_t>(1u << bit);
            if ((*info.key_usage & mask) != 0) n += key_usage_name(mask).size();
        }
    }
    for (const auto& eku : info.extended_key_usage) n += eku.size();
    expect(!info.path_len || *info.path_len >= 0, "a path length is never negative");
    expect(!info.self_signed || info.self_issued, "self-signed implies self-issued");
    return n;
}

void check_certificate(const Certificate& c) {
    const CertificateInfo& info = c.info();
    expect(c.x509() != nullptr, "a certificate has its X509");
    expect(info.fingerprint == Fingerprint::of_der(c.der()),
           "the fingerprint is the SHA-256 of the DER");
    touch(info);

    // The same DER read on its own gives the same certificate.
    Certificate again = parse_der_certificate(c.der());
    expect(again.info().fingerprint == info.fingerprint, "DER re-read: same fingerprint");
    expect(again.info().tbs_sha256 == info.tbs_sha256, "DER re-read: same TBS hash");
    expect(again.info().kernel_description == info.kernel_description,
           "DER re-read: same kernel description");

    // And as PEM, written by OpenSSL: the PEM path decodes what it encodes.
    ossl::BioPtr bio(BIO_new(BIO_s_mem()));
    expect(bio != nullptr, "BIO_new");
    expect(PEM_write_bio_X509(bio.get(), c.x509()) == 1, "OpenSSL writes a certificate it read");
    char* pem = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &pem);
    const auto entries = read_bundle(
        ByteView(reinterpret_cast<const std::uint8_t*>(pem), static_cast<std::size_t>(len)));
    expect(entries.size() == 1 && entries[0].certificate.has_value(),
           "a certificate written as PEM reads back as one certificate");
    expect(entries[0].certificate->info().fingerprint == info.fingerprint,
           "PEM re-read: same fingerprint");

    // The key, loaded on demand, and the signature checked by it: a
    // self-signed certificate is one its own key verifies.
    EVP_PKEY* key = c.public_key();
    expect(key == c.public_key(), "the key is loaded once");
    expect(!info.self_signed || key != nullptr, "a self-signed certificate has a key");
    if (info.self_issued) {
        expect(c.signature_verified_by(key) == info.self_signed,
               "self-signed means verified by its own key");
    }
}

// The verdict engine over the bundle's own certificates: each one judged
// for a signing and a ca keyring, with the others as anchors and links, so
// that chains, loops and missing issuers built from fuzz bytes are walked.
void evaluate_all(const std::vector<Certificate>& good) {
    static const Policy policy = parse_policy(default_policy_text());
    TrustSnapshot snapshot;
    snapshot.certificates[LogicalKeyring::Builtin] = good;
    snapshot.intermediates = good;
    snapshot.unguarded.insert(LogicalKeyring::Ima);
    KernelProfile kernel;
    kernel.major = 6;
    kernel.minor = 6;
    kernel.verifiable = {KeyAlgorithm::Rsa};
    // A fixed clock: a finding must replay the same way on another day.
    const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'780'000'000));
    for (const auto& c : good) {
        for (auto target : {LogicalKeyring::Ima, LogicalKeyring::Secondary}) {
            Verdict v = evaluate(c, target, policy, snapshot, kernel, now);
            for (const auto& check : v.checks) {
                expect(!check.id.empty(), "every check has an id");
                expect(!to_string(check.outcome).empty(), "every outcome has a name");
            }
            expect(!v.accepted || !v.chain.empty() || v.opaque_anchor.has_value(),
                   "an accepted certificate has a chain");
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView bytes(data, size);

    std::vector<BundleEntry> entries;
    try {
        entries = read_bundle(bytes);
    } catch (const Error& e) {
        expect_input_error(e);
        // A smaller byte limit must refuse it too, never crash.
        try {
            (void)read_bundle(bytes, ReadLimits{size / 2, 2});
        } catch (const Error& e2) {
            expect_input_error(e2);
        }
        return 0;
    }

    expect(!entries.empty(), "read_bundle returns at least one entry or throws");
    std::vector<Certificate> good;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const BundleEntry& e = entries[i];
        expect(e.index == i, "entries are numbered in order");
        expect(e.certificate.has_value() != e.error.has_value(),
               "an entry is a certificate or an error, not both");
        if (e.error) {
            expect(e.error->code() == ErrorCode::InvalidCertificate,
                   "an entry's error is InvalidCertificate");
            continue;
        }
        expect(e.der == e.certificate->der(), "an entry's bytes are its certificate's DER");
        check_certificate(*e.certificate);
        good.push_back(*e.certificate);
    }

    // The limits are exact: as many positions as there are is enough, one
    // fewer is refused; so is one byte fewer.
    try {
        const auto same = read_bundle(bytes, ReadLimits{size, entries.size()});
        expect(same.size() == entries.size(), "exact limits: same number of entries");
        for (std::size_t i = 0; i < same.size(); ++i) {
            expect(same[i].certificate.has_value() == entries[i].certificate.has_value(),
                   "exact limits: same outcome for each entry");
        }
    } catch (const Error&) {
        broken("read_bundle refuses input at exactly its own size and count");
    }
    for (const ReadLimits small :
         {ReadLimits{size, entries.size() - 1}, ReadLimits{size - 1, 1000}}) {
        try {
            (void)read_bundle(bytes, small);
            broken("read_bundle accepts input over its limits");
        } catch (const Error& e) {
            expect(e.code() == ErrorCode::InvalidArgument, "over a limit: InvalidArgument");
        }
    }

    try {
        const auto all = read_certificates(bytes);
        expect(all.size() == entries.size() && good.size() == entries.size(),
               "read_certificates returns every entry when all are good");
    } catch (const Error& e) {
        expect(e.code() == ErrorCode::InvalidCertificate && good.size() < entries.size(),
               "read_certificates throws only when an entry is bad");
    }

    if (!good.empty()) evaluate_all(good);
    return 0;
}
