#include "model.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <utility>

#include "failure.hpp"

namespace anchorctl {
namespace {

constexpr std::array<std::pair<anchord::Outcome, std::string_view>, 4> kOutcomes{{
    {anchord::Outcome::Pass, "pass"},
    {anchord::Outcome::Fail, "fail"},
    {anchord::Outcome::Warn, "warn"},
    {anchord::Outcome::Skip, "skip"},
}};

// The API sends "" where a value is absent; JSON says null.
std::optional<std::string> non_empty(const std::string& text) {
    if (text.empty()) return std::nullopt;
    return text;
}

Json nullable(const std::optional<std::string>& value) {
    return value ? Json(*value) : Json(nullptr);
}

}  // namespace

std::optional<anchord::Outcome> parse_outcome(std::string_view name) noexcept {
    for (const auto& [outcome, text] : kOutcomes) {
        if (text == name) return outcome;
    }
    return std::nullopt;
}

std::string_view outcome_name(anchord::Outcome outcome) noexcept {
    for (const auto& [o, text] : kOutcomes) {
        if (o == outcome) return text;
    }
    return "skip";
}

CertificateResult from_dbus(const DbusCertificateResult& result) {
    CertificateResult out;
    out.index = result.get<0>();
    out.fingerprint = non_empty(result.get<1>());
    out.accepted = result.get<2>();
    if (result.get<3>() != 0) out.serial = result.get<3>();
    for (const auto& check : result.get<4>()) {
        const auto outcome = parse_outcome(check.get<1>());
        if (!outcome) {
            throw bad_reply("check \"" + check.get<0>() + "\" has the outcome \"" + check.get<1>() +
                            "\", not one of pass, fail, warn, skip");
        }
        out.checks.push_back({check.get<0>(), *outcome, check.get<2>()});
    }
    const auto& kernel = result.get<5>();
    out.kernel = {kernel.get<0>(), non_empty(kernel.get<1>()), kernel.get<2>()};
    out.belongs_in = non_empty(result.get<6>());
    return out;
}

std::vector<DriftEntry> drift_from_dbus(const std::vector<DbusQuad>& entries) {
    std::vector<DriftEntry> out;
    out.reserve(entries.size());
    for (const auto& e : entries) out.push_back({e.get<0>(), e.get<1>(), e.get<2>(), e.get<3>()});
    return out;
}

std::vector<ProvisioningEntry> provisioning_from_dbus(const std::vector<DbusQuad>& entries) {
    std::vector<ProvisioningEntry> out;
    out.reserve(entries.size());
    for (const auto& e : entries) out.push_back({e.get<0>(), e.get<1>(), e.get<2>(), e.get<3>()});
    return out;
}

std::vector<KeyEntry> keys_from_dbus(const std::vector<DbusKey>& keys) {
    std::vector<KeyEntry> out;
    out.reserve(keys.size());
    for (const auto& k : keys)
        out.push_back({k.get<0>(), k.get<1>(), non_empty(k.get<2>()), k.get<3>()});
    return out;
}

std::optional<std::string> format_timestamp_usec(std::uint64_t usec) {
    if (usec == 0) return std::nullopt;
    const std::chrono::sys_time<std::chrono::microseconds> t{std::chrono::microseconds(usec)};
    const auto seconds = std::chrono::floor<std::chrono::seconds>(t);
    const auto days = std::chrono::floor<std::chrono::days>(seconds);
    const std::chrono::year_month_day ymd{days};
    const std::chrono::hh_mm_ss hms{seconds - days};
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ",
                  static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()), static_cast<long>(hms.hours().count()),
                  static_cast<long>(hms.minutes().count()),
                  static_cast<long>(hms.seconds().count()));
    return std::string(buffer);
}

Json to_json(const CertificateResult& result) {
    Json checks = Json::array();
    for (const auto& check : result.checks) {
        checks.push_back({{"id", check.id},
                          {"outcome", std::string(outcome_name(check.outcome))},
                          {"reason", check.reason}});
    }
    return {
        {"index", result.index},
        {"file", nullable(result.file)},
        {"fingerprint", nullable(result.fingerprint)},
        {"accepted", result.accepted},
        {"serial", result.serial ? Json(*result.serial) : Json(nullptr)},
        {"checks", std::move(checks)},
        {"kernel",
         {{"accepted", result.kernel.accepted},
          {"error", nullable(result.kernel.error)},
          {"reason", result.kernel.reason}}},
        {"belongs_in", nullable(result.belongs_in)},
    };
}

Json to_json(const KeyEntry& key) {
    return {{"serial", key.serial},
            {"description", key.description},
            {"fingerprint", nullable(key.fingerprint)},
            {"origin", key.origin}};
}

Json to_json(const KeyringInfo& keyring, bool with_keys) {
    Json out = {
        {"name", keyring.name},     {"kernel_name", keyring.kernel_name},
        {"serial", keyring.serial}, {"present", keyring.present},
        {"sealed", keyring.sealed}, {"guarded", keyring.guarded},
        {"role", keyring.role},     {"key_count", keyring.keys.size()},
    };
    if (with_keys) {
        Json keys = Json::array();
        for (const auto& key : keyring.keys) keys.push_back(to_json(key));
        out["keys"] = std::move(keys);
    }
    return out;
}

Json to_json(const DriftEntry& entry) {
    return {{"keyring", entry.keyring},
            {"fingerprint", entry.fingerprint},
            {"kind", entry.kind},
            {"detail", entry.detail}};
}

Json to_json(const ProvisioningEntry& entry) {
    return {{"path", entry.path},
            {"keyring", entry.keyring},
            {"outcome", entry.outcome},
            {"reason", entry.reason}};
}

Json to_json(const ManagerInfo& manager) {
    Json drift = Json::array();
    for (const auto& entry : manager.drift) drift.push_back(to_json(entry));
    Json provisioning = Json::array();
    for (const auto& entry : manager.provisioning) provisioning.push_back(to_json(entry));
    return {
        {"version", manager.version},
        {"mode", manager.mode},
        {"policy_digest", manager.policy_digest},
        {"compliant", manager.compliant},
        {"last_reconcile", nullable(format_timestamp_usec(manager.last_reconcile_usec))},
        {"last_reconcile_usec", manager.last_reconcile_usec},
        {"drift", std::move(drift)},
        {"provisioning", std::move(provisioning)},
    };
}

}  // namespace anchorctl
