// Conformance: the chain walk of evaluate() against the RFC 5280 path
// validation cases cut from x509-limbo (../shared/limbo, see its README).
// Every case runs with the roots in builtin, the intermediates in a keyring
// the target does not trust (links, never anchors), and a policy that sets
// anchord's own role, usage and algorithm rules aside, so that what decides
// is path validation. A `core` case that disagrees fails the test unless
// docs/limbo-divergences.md lists it with its reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "anchord/certificate.hpp"
#include "anchord/error.hpp"
#include "anchord/verdict.hpp"

namespace anchord {
namespace {

namespace fs = std::filesystem;

fs::path limbo_dir() {
    if (const char* env = std::getenv("ANCHORD_LIMBO_DIR"); env != nullptr && *env != '\0') {
        return env;
    }
    return fs::path(ANCHORD_SOURCE_DIR) / ".." / "shared" / "limbo";
}

Bytes read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// "2024-04-01T00:00:00.005+00:00" (also "Z" and no fraction).
std::optional<std::chrono::system_clock::time_point> parse_time(const std::string& text) {
    static const std::regex form(
        R"(^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))$)");
    std::smatch m;
    if (!std::regex_match(text, m, form)) return std::nullopt;
    auto num = [&](int i) { return std::stoi(m[i].str()); };
    using namespace std::chrono;
    const year_month_day ymd{year{num(1)}, month{static_cast<unsigned>(num(2))},
                             day{static_cast<unsigned>(num(3))}};
    if (!ymd.ok()) return std::nullopt;
    auto t = sys_days{ymd} + hours{num(4)} + minutes{num(5)} + seconds{num(6)};
    system_clock::time_point out = time_point_cast<system_clock::duration>(t);
    if (m[8].matched) {
        std::string frac = m[8].str();
        frac.resize(9, '0');
        out += duration_cast<system_clock::duration>(nanoseconds{std::stoll(frac)});
    }
    if (m[10].matched) {
        auto offset = hours{num(11)} + minutes{num(12)};
        out -= m[10].str() == "+" ? offset : -offset;
    }
    return out;
}

// The case ids docs/limbo-divergences.md lists: the first cell of a table
// row, in backticks.
std::map<std::string, std::string> listed_divergences() {
    std::map<std::string, std::string> out;
    std::ifstream in(fs::path(ANCHORD_SOURCE_DIR) / "docs" / "limbo-divergences.md");
    static const std::regex row(R"(^\|\s*`([^`]+)`\s*\|\s*([^|]*)\|)");
    std::string line;
    while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_search(line, m, row)) out[m[1].str()] = m[2].str();
    }
    return out;
}

Policy path_validation_policy() {
    KeyringPolicy ima;
    ima.name = LogicalKeyring::Ima;
    ima.kernel_keyring = "_ima";
    ima.role = KeyringRole::Signing;
    ima.enrollable = true;
    ima.trusted_by = {LogicalKeyring::Builtin};
    ima.allow_ca = true;  // rfc5280::ca-as-leaf: RFC 5280 has no CA/EE rule for the leaf
    ima.allow_leaf = true;
    ima.required_usage = 0;
    ima.forbidden_usage = 0;
    ima.algorithms = {};  // any
    ima.hashes = {HashAlgorithm::Md5,      HashAlgorithm::Sha1,     HashAlgorithm::Sha224,
                  HashAlgorithm::Sha256,   HashAlgorithm::Sha384,   HashAlgorithm::Sha512,
                  HashAlgorithm::Sha3_256, HashAlgorithm::Sha3_384, HashAlgorithm::Sha3_512,
                  HashAlgorithm::Sm3};
    ima.enforce_validity = true;
    ima.clock_skew = std::chrono::seconds(0);
    ima.max_chain_depth = 16;  // RFC 5280 sets no limit; longer than any case's chain
    Policy policy;
    policy.keyrings[LogicalKeyring::Ima] = ima;
    return policy;
}

struct CaseResult {
    std::string id;
    std::string tier;
    bool expected_success = false;
    bool accepted = false;
    std::string detail;  // the failed checks, or why the case could not run
};

std::vector<fs::path> numbered(const fs::path& dir, const std::string& prefix) {
    std::vector<std::pair<int, fs::path>> found;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (!name.starts_with(prefix) || !name.ends_with(".der")) continue;
        const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - 4);
        int n = 0;
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (ec == std::errc() && p == digits.data() + digits.size())
            found.emplace_back(n, e.path());
    }
    std::sort(found.begin(), found.end());
    std::vector<fs::path> out;
    for (auto& [n, p] : found) out.push_back(p);
    return out;
}

CaseResult run_case(const fs::path& dir, const Policy& policy) {
    CaseResult r;
    std::ifstream in(dir / "case.json");
    const auto meta = nlohmann::json::parse(in);
    r.id = meta.at("id").get<std::string>();
    r.tier = meta.at("tier").get<std::string>();
    r.expected_success = meta.at("expected").get<std::string>() == "SUCCESS";

    auto now = std::chrono::system_clock::now();
    if (const auto& vt = meta.at("validation_time"); !vt.is_null()) {
        auto t = parse_time(vt.get<std::string>());
        if (!t) {
            r.detail = "validation_time does not parse: " + vt.get<std::string>();
            return r;
        }
        now = *t;
    }

    // A certificate the reader refuses cannot be enrolled (the leaf) or
    // cannot vouch (a root or intermediate).
    TrustSnapshot snapshot;
    snapshot.unguarded = {LogicalKeyring::Ima};
    std::string unread;
    auto load = [&](const fs::path& p, LogicalKeyring k) {
        try {
            snapshot.certificates[k].push_back(parse_der_certificate(read_file(p)));
        } catch (const Error& e) {
            unread += " [" + p.filename().string() + " unreadable: " + e.what() + "]";
        }
    };
    for (const auto& p : numbered(dir, "root-")) load(p, LogicalKeyring::Builtin);
    for (const auto& p : numbered(dir, "inter-")) load(p, LogicalKeyring::Secondary);

    std::optional<Certificate> leaf;
    try {
        leaf = parse_der_certificate(read_file(dir / "leaf.der"));
    } catch (const Error& e) {
        r.accepted = false;
        r.detail = "leaf unreadable: " + std::string(e.what()) + unread;
        return r;
    }
    const Verdict v = evaluate(*leaf, LogicalKeyring::Ima, policy, snapshot, KernelProfile{}, now);
    r.accepted = v.accepted;
    for (const auto& c : v.checks) {
        if (c.outcome == Outcome::Fail) r.detail += " [" + c.id + ": " + c.reason + "]";
    }
    r.detail += unread;
    return r;
}

TEST(Limbo, PathValidationAgreesWithRfc5280Cases) {
    const fs::path dir = limbo_dir();
    if (!fs::is_directory(dir / "cases")) {
        GTEST_SKIP() << "no x509-limbo cases at " << dir.string()
                     << " (set ANCHORD_LIMBO_DIR to run them)";
    }
    const Policy policy = path_validation_policy();
    const auto divergences = listed_divergences();
    // ANCHORD_LIMBO_VERBOSE=1 prints every case with the checks that failed,
    // to see that a refusal has the right reason.
    const char* verbose_env = std::getenv("ANCHORD_LIMBO_VERBOSE");
    const bool verbose = verbose_env != nullptr && *verbose_env != '\0';

    std::vector<fs::path> case_dirs;
    for (const auto& e : fs::directory_iterator(dir / "cases")) {
        if (e.is_directory() && fs::exists(e.path() / "case.json")) case_dirs.push_back(e.path());
    }
    std::sort(case_dirs.begin(), case_dirs.end());
    ASSERT_FALSE(case_dirs.empty()) << "no cases under " << (dir / "cases").string();

    std::map<std::string, std::pair<int, int>> per_tier;  // agree, total
    int agree = 0;
    std::set<std::string> seen;
    for (const auto& d : case_dirs) {
        const CaseResult r = run_case(d, policy);
        seen.insert(r.id);
        const bool ok = r.accepted == r.expected_success;
        auto& tier = per_tier[r.tier];
        tier.second++;
        if (ok) {
            tier.first++;
            agree++;
            if (verbose) {
                std::cout << "  agree [" << r.tier << "] " << r.id << ": "
                          << (r.accepted ? "accepted" : "refused") << r.detail << "\n";
            }
            continue;
        }
        const bool listed = divergences.contains(r.id);
        std::cout << "  disagree [" << r.tier << "] " << r.id << ": expected "
                  << (r.expected_success ? "SUCCESS" : "FAILURE") << ", anchord "
                  << (r.accepted ? "accepted" : "refused") << (listed ? " (listed)" : "") << "\n   "
                  << r.detail << "\n";
        if (r.tier == "core" && !listed) {
            ADD_FAILURE() << "core case " << r.id << " disagrees and is not listed in "
                          << "docs/limbo-divergences.md:" << r.detail;
        }
    }
    std::cout << "x509-limbo: anchord agrees on " << agree << " of " << case_dirs.size()
              << " cases\n";
    for (const auto& [tier, counts] : per_tier) {
        std::cout << "  " << tier << ": " << counts.first << "/" << counts.second << "\n";
    }
    // The issue's bar: agree on more cases than OpenSSL's own `verify`
    // (openssl.json beside the cases records its count, 83 of 90).
    int openssl_agree = 83;
    if (std::ifstream o(dir / "openssl.json"); o) {
        const auto summary = nlohmann::json::parse(o, nullptr, false);
        if (summary.is_object() && summary.contains("summary") &&
            summary["summary"].contains("agree_primary")) {
            openssl_agree = summary["summary"]["agree_primary"].get<int>();
        }
    }
    EXPECT_GT(agree, openssl_agree) << "OpenSSL's verify agrees on " << openssl_agree;
    for (const auto& [listed_id, reason] : divergences) {
        // A listed case carries its reason.
        EXPECT_NE(reason.find_first_not_of(" \t"), std::string::npos)
            << "docs/limbo-divergences.md lists " << listed_id << " without a reason";
        if (!seen.contains(listed_id)) {
            std::cout << "  note: docs/limbo-divergences.md lists " << listed_id
                      << ", which is not among the cases\n";
        }
    }
}

}  // namespace
}  // namespace anchord
