#include "service/manager_object.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "anchord/bus_api.hpp"
#include "journal/journal.hpp"
#include "service/bus_errors.hpp"

namespace anchord::service {

namespace iface = io::github::anchord1;

BusCertificateResult to_bus(const manager::CertificateResult& r) {
    std::vector<sdbus::Struct<std::string, std::string, std::string>> checks;
    checks.reserve(r.checks.size());
    for (const auto& c : r.checks)
        checks.emplace_back(c.id, std::string(to_string(c.outcome)), c.reason);
    return BusCertificateResult(
        r.index, r.fingerprint ? r.fingerprint->to_string() : std::string(), r.accepted,
        r.serial.value, std::move(checks),
        sdbus::Struct<bool, std::string, std::string>(r.kernel.accepted, r.kernel.error_name,
                                                      r.kernel.reason),
        r.belongs_in ? std::string(to_string(*r.belongs_in)) : std::string());
}

BusQuad to_bus(const manager::DriftEntry& d) {
    return BusQuad(std::string(to_string(d.keyring)), d.fingerprint,
                   std::string(manager::to_string(d.kind)), d.detail);
}

BusQuad to_bus(const manager::ProvisionEntry& p) {
    return BusQuad(p.path, p.keyring, std::string(manager::to_string(p.outcome)), p.reason);
}

std::vector<arguments::OptionArgument> option_arguments(
    const std::map<std::string, sdbus::Variant>& options) {
    std::vector<arguments::OptionArgument> out;
    out.reserve(options.size());
    for (const auto& [key, value] : options) {
        arguments::OptionArgument option{key, value.peekValueType(), std::nullopt};
        if (value.containsValueOfType<bool>()) option.boolean = value.get<bool>();
        out.push_back(std::move(option));
    }
    return out;
}

ManagerObject::ManagerObject(sdbus::IConnection& bus, manager::Manager& manager,
                             auth::Authorizer& authorizer, Workers& workers, std::string version)
    : AdaptorInterfaces(bus, bus_api::kManagerPath),
      manager_(manager),
      authorizer_(authorizer),
      workers_(workers),
      version_(std::move(version)) {
    registerAdaptor();
    for (auto k : kAllLogicalKeyrings)
        keyrings_.emplace(k, std::make_unique<KeyringObject>(bus, manager, k));
}

ManagerObject::~ManagerObject() {
    keyrings_.clear();
    unregisterAdaptor();
}

// --- authorization ----------------------------------------------------------

auth::Caller ManagerObject::current_caller() {
    const auto* call = getObject().getCurrentlyProcessedMessage();
    if (call == nullptr) throw Error(ErrorCode::AccessDenied, "the caller cannot be identified");
    return authorizer_.identify(*call);
}

void ManagerObject::check(const auth::Caller& caller, auth::Action action) {
    try {
        authorizer_.check(caller, action);
    } catch (const Error& e) {
        journal::Fields fields;
        fields.caller_uid = caller.uid;
        fields.verdict = "access-denied";
        journal::warning(journal::Event::Refused,
                         "caller " + caller.bus_name + " (uid " + std::to_string(caller.uid) +
                             ") may not " + std::string(auth::action_description(action)) + ": " +
                             e.what(),
                         fields);
        throw;
    }
}

// --- methods -----------------------------------------------------------------

namespace {

// Runs `body` on a worker of `lane` and answers `result` with what it
// returns, or with its error. The bus thread only validates and identifies
// the caller: anything that may wait (the manager's lock, held for a whole
// enrollment; polkit's answer) happens here, so reads keep being answered.
//
// A body that takes a Respond answers itself, and may go on working after it
// (a change's drift pass and signals): the caller does not wait for that.
// What it throws once it has answered is only logged.
template <typename... Outs>
using Respond = std::function<void(const Outs&...)>;

template <typename... Outs, typename Body>
void answer_on(Workers& workers, Lane lane, sdbus::Result<Outs...>&& result, Body body) {
    auto reply = std::make_shared<sdbus::Result<Outs...>>(std::move(result));
    auto job = [reply, body = std::move(body)]() mutable {
        bool answered = false;
        try {
            if constexpr (std::is_invocable_v<Body&, const Respond<Outs...>&>) {
                Respond<Outs...> respond = [&](const Outs&... outs) {
                    answered = true;
                    reply->returnResults(outs...);
                };
                body(respond);
                if (!answered) throw Error(ErrorCode::Internal, "the request was not answered");
            } else if constexpr (sizeof...(Outs) == 0) {
                body();
                reply->returnResults();
            } else {
                reply->returnResults(body());
            }
        } catch (...) {
            if (!answered) {
                reply->returnError(to_bus_error(std::current_exception()));
            } else {
                journal::log(LOG_ERR, "after its answer, a request failed: " +
                                          to_bus_error(std::current_exception()).getMessage());
            }
        }
    };
    if (!workers.post(std::move(job), lane)) {
        reply->returnError(sdbus::Error(dbus_error_name(ErrorCode::Internal),
                                        "anchord is busy or stopping: try again"));
    }
}

manager::Requester requester_of(const auth::Caller& caller) {
    return manager::Requester{caller.uid, caller.bus_name};
}

}  // namespace

void ManagerObject::Verify(sdbus::Result<Results>&& result, std::vector<uint8_t> certificates,
                           std::string keyring) {
    translate([&] { arguments::check_verify(certificates, keyring); });
    answer_on(workers_, Lane::Read, std::move(result),
              [this, certificates = std::move(certificates), keyring = std::move(keyring)] {
                  Results out;
                  for (const auto& r : manager_.verify(certificates, keyring))
                      out.push_back(to_bus(r));
                  return out;
              });
}

void ManagerObject::Enroll(sdbus::Result<Results>&& result, std::vector<uint8_t> certificates,
                           std::string keyring, std::map<std::string, sdbus::Variant> options) {
    auto [caller, parsed] = translate([&] {
        auto checked = arguments::check_enroll(certificates, keyring, option_arguments(options));
        return std::pair(current_caller(), checked.options);
    });
    answer_on(
        workers_, Lane::Change, std::move(result),
        [this, caller = std::move(caller), parsed = parsed, certificates = std::move(certificates),
         keyring = std::move(keyring)](const Respond<Results>& respond) {
            check(caller, auth::Action::Enroll);
            manager_.enroll(certificates, keyring, parsed, requester_of(caller),
                            [&](const std::vector<manager::CertificateResult>& results) {
                                Results out;
                                out.reserve(results.size());
                                for (const auto& r : results) out.push_back(to_bus(r));
                                respond(out);
                            });
        });
}

void ManagerObject::Remove(sdbus::Result<>&& result, std::string fingerprint, std::string keyring) {
    auto caller = translate([&] {
        arguments::check_remove(fingerprint, keyring);
        return current_caller();
    });
    answer_on(workers_, Lane::Change, std::move(result),
              [this, caller = std::move(caller), fingerprint = std::move(fingerprint),
               keyring = std::move(keyring)] {
                  check(caller, auth::Action::Remove);
                  manager_.remove(fingerprint, keyring, requester_of(caller));
              });
}

void ManagerObject::Seal(sdbus::Result<bool>&& result, std::string keyring) {
    auto caller = translate([&] {
        arguments::check_seal(keyring);
        return current_caller();
    });
    answer_on(workers_, Lane::Change, std::move(result),
              [this, caller = std::move(caller), keyring = std::move(keyring)] {
                  check(caller, auth::Action::Seal);
                  return manager_.seal(keyring, requester_of(caller));
              });
}

void ManagerObject::Reconcile(sdbus::Result<QuadList>&& result) {
    auto caller = translate([&] { return current_caller(); });
    answer_on(workers_, Lane::Change, std::move(result), [this, caller = std::move(caller)] {
        check(caller, auth::Action::Reconcile);
        QuadList out;
        for (const auto& d : manager_.reconcile(requester_of(caller))) out.push_back(to_bus(d));
        return out;
    });
}

void ManagerObject::ReloadPolicy(sdbus::Result<>&& result) {
    auto caller = translate([&] { return current_caller(); });
    answer_on(workers_, Lane::Change, std::move(result), [this, caller = std::move(caller)] {
        check(caller, auth::Action::ReloadPolicy);
        manager_.reload_policy();
    });
}

std::tuple<std::string, std::string> ManagerObject::GetPolicy() {
    return translate([&] {
        auto p = manager_.policy();
        return std::tuple(std::move(p.json), std::move(p.digest));
    });
}

// --- properties --------------------------------------------------------------

std::string ManagerObject::Version() {
    return version_;
}

std::string ManagerObject::Mode() {
    return manager_.sandbox() ? "sandbox" : "system";
}

std::string ManagerObject::PolicyDigest() {
    return translate([&] { return manager_.policy_digest(); });
}

bool ManagerObject::Compliant() {
    return translate([&] { return manager_.compliant(); });
}

uint64_t ManagerObject::LastReconcile() {
    return translate([&] { return manager_.last_reconcile_usec(); });
}

ManagerObject::QuadList ManagerObject::Drift() {
    return translate([&] {
        QuadList out;
        for (const auto& d : manager_.drift()) out.push_back(to_bus(d));
        return out;
    });
}

ManagerObject::QuadList ManagerObject::Provisioning() {
    return translate([&] {
        QuadList out;
        for (const auto& p : manager_.provisioning()) out.push_back(to_bus(p));
        return out;
    });
}

// --- manager::Listener ---------------------------------------------------------

void ManagerObject::key_enrolled(LogicalKeyring keyring, const Fingerprint& fingerprint,
                                 KeySerial serial) {
    emitKeyEnrolled(std::string(to_string(keyring)), fingerprint.to_string(), serial.value);
}

void ManagerObject::key_removed(LogicalKeyring keyring, const Fingerprint& fingerprint) {
    emitKeyRemoved(std::string(to_string(keyring)), fingerprint.to_string());
}

void ManagerObject::keyring_sealed(LogicalKeyring keyring, bool kernel_enforced) {
    emitKeyringSealed(std::string(to_string(keyring)), kernel_enforced);
    if (auto it = keyrings_.find(keyring); it != keyrings_.end()) it->second->sealed_changed();
}

void ManagerObject::keys_changed(LogicalKeyring keyring) {
    if (auto it = keyrings_.find(keyring); it != keyrings_.end()) it->second->keys_changed();
}

void ManagerObject::policy_changed() {
    emitPropertiesChangedSignal(iface::Manager_adaptor::INTERFACE_NAME, {"PolicyDigest"});
    for (auto& [k, object] : keyrings_) object->role_changed();
}

void ManagerObject::drift_changed(const std::vector<manager::DriftEntry>& drift, bool detected) {
    emitPropertiesChangedSignal(iface::Manager_adaptor::INTERFACE_NAME,
                                {"Compliant", "Drift", "LastReconcile"});
    if (detected) {
        QuadList out;
        for (const auto& d : drift) out.push_back(to_bus(d));
        emitDriftDetected(out);
    }
}

}  // namespace anchord::service
