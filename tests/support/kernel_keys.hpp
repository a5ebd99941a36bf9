// Reading the kernel's keyrings in tests with plain keyutils calls,
// independently of the code under test. Header-only: the test targets that
// use it link libkeyutils; the support library does not.
#pragma once

#include <keyutils.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace anchord::testing {

// The serials a keyring links; empty when the keyring does not exist or
// cannot be read (a process keyring not yet made answers ENOKEY).
inline std::vector<key_serial_t> ring_serials(key_serial_t ring) {
    void* raw = nullptr;
    long size = keyctl_read_alloc(ring, &raw);
    if (size < 0) return {};
    std::unique_ptr<void, decltype(&std::free)> owned(raw, &std::free);
    const auto* ids = static_cast<const key_serial_t*>(raw);
    return {ids, ids + static_cast<std::size_t>(size) / sizeof(key_serial_t)};
}

// Removes a keyring the test had to make in the user keyring, whatever
// happens to the test.
class UserKeyringCleanup {
  public:
    explicit UserKeyringCleanup(std::string name) : name_(std::move(name)) {}
    UserKeyringCleanup(const UserKeyringCleanup&) = delete;
    UserKeyringCleanup& operator=(const UserKeyringCleanup&) = delete;
    ~UserKeyringCleanup() {
        for (int i = 0; i < 8; ++i) {
            long id = keyctl_search(KEY_SPEC_USER_KEYRING, "keyring", name_.c_str(), 0);
            if (id < 0) break;
            keyctl_unlink(static_cast<key_serial_t>(id), KEY_SPEC_USER_KEYRING);
            keyctl_invalidate(static_cast<key_serial_t>(id));
        }
    }

  private:
    std::string name_;
};

}  // namespace anchord::testing
