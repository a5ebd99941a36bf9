#include "pki.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "test_pki.hpp"

namespace anchord::bench {
namespace {

namespace fs = std::filesystem;
using std::chrono::days;
using std::chrono::seconds;
using std::chrono::system_clock;

constexpr int kFormat = 1;  // bump when the set's shape changes
// Leaves are issued for 400 days and reused for 360, so a cached set never
// trips the policy's validity check.
constexpr days kLeafLifetime{400};
constexpr days kReuseFor{360};

Bytes read_file(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + file.string());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& file, const Bytes& bytes) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + file.string());
}

fs::path leaf_path(const fs::path& dir, std::size_t i) {
    char name[32];
    std::snprintf(name, sizeof name, "leaf-%05zu.der", i);
    return dir / "leaves" / name;
}

bool is_p256(std::size_t i) {
    return i % 2 == 0;
}

std::string manifest_text(std::size_t n, system_clock::time_point created) {
    std::ostringstream out;
    out << "anchord-bench-certificates " << kFormat << "\n"
        << "n " << n << "\n"
        << "created " << std::chrono::duration_cast<seconds>(created.time_since_epoch()).count()
        << "\n";
    return out.str();
}

// The first `n` leaves of the set in `dir`, when its manifest says it is
// complete, holds at least `n` leaves, and is young enough: a set made for
// the full run serves the small development runs too.
std::optional<CertSet> load(const fs::path& dir, std::size_t n) {
    std::ifstream in(dir / "manifest");
    if (!in) return std::nullopt;
    std::string tag, key;
    int format = 0;
    std::size_t count = 0;
    long long created = 0;
    in >> tag >> format >> key >> count;
    if (tag != "anchord-bench-certificates" || format != kFormat || key != "n" || count < n)
        return std::nullopt;
    in >> key >> created;
    if (key != "created") return std::nullopt;
    auto age = system_clock::now() - system_clock::time_point(seconds(created));
    if (age > kReuseFor || age < seconds(0)) return std::nullopt;

    CertSet set;
    set.dir = dir;
    set.reused = true;
    set.root = read_file(dir / "root.der");
    set.intermediate_file = dir / "intermediate.der";
    set.intermediate = read_file(set.intermediate_file);
    for (std::size_t i = 0; i < n; ++i) {
        set.leaf_files.push_back(leaf_path(dir, i));
        set.leaves.push_back(read_file(set.leaf_files.back()));
        (is_p256(i) ? set.p256 : set.rsa2048)++;
    }
    return set;
}

}  // namespace

CertSet load_or_generate(const fs::path& dir, std::size_t n, unsigned threads) {
    if (auto cached = load(dir, n)) return std::move(*cached);

    using namespace anchord::testing;
    fs::remove(dir / "manifest");  // an interrupted generation must not look complete
    fs::create_directories(dir / "leaves");
    auto created = system_clock::now();
    auto not_after = std::chrono::time_point_cast<seconds>(created + kLeafLifetime);

    auto root_spec = ca_spec("anchord bench root");
    root_spec.organization = "anchord bench";
    root_spec.not_after = not_after;
    TestCert root = make_self_signed(root_spec, KeyType::Rsa4096);
    auto intermediate_spec = ca_spec("anchord bench intermediate");
    intermediate_spec.organization = "anchord bench";
    intermediate_spec.not_after = not_after;
    TestCert intermediate = make_signed(intermediate_spec, root, KeyType::Rsa4096);

    CertSet set;
    set.dir = dir;
    set.root = root.der;
    set.intermediate = intermediate.der;
    set.intermediate_file = dir / "intermediate.der";
    set.leaves.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        set.leaf_files.push_back(leaf_path(dir, i));
        (is_p256(i) ? set.p256 : set.rsa2048)++;
    }

    // Key generation dominates (RSA-2048 primes), so the leaves are spread
    // over threads; OpenSSL 3 allows concurrent signing with one EVP_PKEY.
    std::mutex failure_lock;
    std::exception_ptr failure;
    auto work = [&](unsigned first) {
        try {
            for (std::size_t i = first; i < n; i += threads) {
                auto spec = signing_spec("anchord bench leaf " + std::to_string(i));
                spec.organization = "anchord bench";
                spec.not_after = not_after;
                set.leaves[i] =
                    make_signed(spec, intermediate, is_p256(i) ? KeyType::P256 : KeyType::Rsa2048)
                        .der;
            }
        } catch (...) {
            std::lock_guard lock(failure_lock);
            if (!failure) failure = std::current_exception();
        }
    };
    if (threads == 0) threads = 1;
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(work, t);
    for (auto& t : pool) t.join();
    if (failure) std::rethrow_exception(failure);

    write_file(dir / "root.der", set.root);
    write_file(set.intermediate_file, set.intermediate);
    for (std::size_t i = 0; i < n; ++i) write_file(set.leaf_files[i], set.leaves[i]);
    std::ofstream manifest(dir / "manifest", std::ios::trunc);
    manifest << manifest_text(n, created);
    if (!manifest) throw std::runtime_error("cannot write " + (dir / "manifest").string());
    return set;
}

Bytes pem_bundle(const CertSet& set, std::size_t first, std::size_t count) {
    static constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----\n";
    static constexpr std::string_view kEnd = "-----END CERTIFICATE-----\n";
    Bytes out;
    for (std::size_t i = first; i < first + count && i < set.leaves.size(); ++i) {
        const Bytes& der = set.leaves[i];
        out.insert(out.end(), kBegin.begin(), kBegin.end());
        // 48 DER bytes make one 64-character base64 line.
        for (std::size_t at = 0; at < der.size(); at += 48) {
            int chunk = static_cast<int>(std::min<std::size_t>(48, der.size() - at));
            unsigned char line[80];
            int len = EVP_EncodeBlock(line, der.data() + at, chunk);
            out.insert(out.end(), line, line + len);
            out.push_back('\n');
        }
        out.insert(out.end(), kEnd.begin(), kEnd.end());
    }
    return out;
}

}  // namespace anchord::bench
