// io.github.anchord1.Manager at /io/github/anchord1, with the
// ObjectManager over the keyring objects it owns. Each handler reads its
// arguments, validates them (the error quotes the bad value), authorizes
// the changing ones, hands the work to the manager and translates errors.
// Every method that may wait (Verify, and all the changing ones, which wait
// for each other on the manager's lock and for polkit) is Async: its body
// runs on the workers, Verify on the read lane, the others on the change
// lane, so the bus thread never waits and reads are always answered.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "anchord/sdbus.hpp"
// After sdbus.hpp: the generated code marshals with its overloads.
#include "anchord/adaptor.h"
#include "auth/authorizer.hpp"
#include "manager/manager.hpp"
#include "service/arguments.hpp"
#include "service/keyring_object.hpp"
#include "service/workers.hpp"

namespace anchord::service {

// The struct (usbia(sss)(bss)s) of Verify and Enroll results.
using BusCertificateResult =
    sdbus::Struct<uint32_t, std::string, bool, int32_t,
                  std::vector<sdbus::Struct<std::string, std::string, std::string>>,
                  sdbus::Struct<bool, std::string, std::string>, std::string>;
// (ssss): drift entries and provisioning entries.
using BusQuad = sdbus::Struct<std::string, std::string, std::string, std::string>;

BusCertificateResult to_bus(const manager::CertificateResult& result);
BusQuad to_bus(const manager::DriftEntry& entry);
BusQuad to_bus(const manager::ProvisionEntry& entry);

// Enroll's a{sv} options as the plain values the argument checks take
// (service/arguments.hpp).
std::vector<arguments::OptionArgument> option_arguments(
    const std::map<std::string, sdbus::Variant>& options);

class ManagerObject final
    : public sdbus::AdaptorInterfaces<io::github::anchord1::Manager_adaptor,
                                      sdbus::ObjectManager_adaptor, sdbus::Properties_adaptor>,
      public manager::Listener {
  public:
    // Registers the root object and one object per logical keyring.
    ManagerObject(sdbus::IConnection& bus, manager::Manager& manager, auth::Authorizer& authorizer,
                  Workers& workers, std::string version);
    ~ManagerObject();

    // manager::Listener: signals and PropertiesChanged.
    void key_enrolled(LogicalKeyring keyring, const Fingerprint& fingerprint,
                      KeySerial serial) override;
    void key_removed(LogicalKeyring keyring, const Fingerprint& fingerprint) override;
    void keyring_sealed(LogicalKeyring keyring, bool kernel_enforced) override;
    void keys_changed(LogicalKeyring keyring) override;
    void policy_changed() override;
    void drift_changed(const std::vector<manager::DriftEntry>& drift, bool detected) override;

  private:
    using Results = std::vector<BusCertificateResult>;
    using QuadList = std::vector<BusQuad>;

    void Verify(sdbus::Result<Results>&& result, std::vector<uint8_t> certificates,
                std::string keyring) override;
    void Enroll(sdbus::Result<Results>&& result, std::vector<uint8_t> certificates,
                std::string keyring, std::map<std::string, sdbus::Variant> options) override;
    void Remove(sdbus::Result<>&& result, std::string fingerprint, std::string keyring) override;
    void Seal(sdbus::Result<bool>&& result, std::string keyring) override;
    void Reconcile(sdbus::Result<QuadList>&& result) override;
    void ReloadPolicy(sdbus::Result<>&& result) override;
    std::tuple<std::string, std::string> GetPolicy() override;

    std::string Version() override;
    std::string Mode() override;
    std::string PolicyDigest() override;
    bool Compliant() override;
    uint64_t LastReconcile() override;
    QuadList Drift() override;
    QuadList Provisioning() override;

    // The caller of the method being handled (on the bus thread only).
    auth::Caller current_caller();
    // Authorizes before anything changes; a denial is logged.
    void check(const auth::Caller& caller, auth::Action action);

    manager::Manager& manager_;
    auth::Authorizer& authorizer_;
    Workers& workers_;
    const std::string version_;
    std::map<LogicalKeyring, std::unique_ptr<KeyringObject>> keyrings_;
};

}  // namespace anchord::service
