// anchord's hands on the kernel's keyrings (libkeyutils). The same code
// addresses the system keyrings or a sandbox topology built under a private
// keyring; which one is chosen by configuration.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "anchord/error.hpp"
#include "anchord/types.hpp"
#include "anchord/verdict.hpp"

namespace anchord::keyring {

// A failed keyctl call: the errno, its symbolic name and a message that
// tells a person what happened and what to do. code() is KernelRejected for
// verdict errnos (ENOKEY, EKEYREJECTED, EBADMSG, ENOPKG, ENOENT, EINVAL),
// AccessDenied or Sealed for EACCES/EPERM, NotFound for a missing keyring.
class KernelError : public Error {
public:
    KernelError(ErrorCode code, int err, const std::string& message)
        : Error(code, message), errno_(err) {}
    int error_number() const noexcept { return errno_; }

private:
    int errno_;
};

std::string errno_name(int err);  // "ENOKEY", ...; "errno 123" when unknown
// The person-readable meaning of an errno from add_key/keyctl_link.
std::string explain_errno(int err);
// Builds the KernelError for `err` from an operation described by `context`
// ("linking sha256:... into .ima").
KernelError kernel_error(int err, const std::string& context);

struct KeyEntry {
    KeySerial serial;
    std::string type;          // "asymmetric", "keyring", "blacklist", ...
    std::string description;
    std::uint32_t permissions = 0;
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::optional<Bytes> subject_key_id;  // for asymmetric keys, when the kernel exposes it
    bool is_keyring() const { return type == "keyring"; }
};

struct AddResult {
    KeySerial serial;
    bool already_present = false;  // the same certificate was already linked there
};

// The kernel's answer to a trial link.
struct TrialResult {
    bool accepted = false;
    int error_number = 0;  // 0 when accepted
    std::string error_name;  // "ENOKEY", ... ; empty when accepted
    std::string reason;
    // Which parts of the verdict were measured on a scratch keyring and
    // which predicted from the policy (rules userspace cannot set).
    std::vector<std::string> measured;
    std::vector<std::string> predicted;
};

// One logical keyring as found on this machine.
struct KeyringLocation {
    LogicalKeyring name;
    std::string kernel_name;  // ".ima", "_ima", "anchord.sandbox.ima", ...
    std::optional<KeySerial> serial;  // nullopt: absent on this kernel
    bool kernel_restricted = false;   // the kernel checks links (false for _ima/_evm)
    bool userspace_made = false;      // anchord may restrict/seal it
};

// ... further declarations (Keyrings, Sandbox, discovery, kernel profile)
// are in keyrings.hpp, written with the implementation.

}  // namespace anchord::keyring
